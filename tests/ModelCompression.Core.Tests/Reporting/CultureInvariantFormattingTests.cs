using ModelCompression.Testing;
using System.Globalization;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tests.Planning;

namespace ModelCompression.Core.Tests.Reporting;

/// <summary>
/// Logs and reports are build output: the library writes them the same under any current culture (a host
/// that runs it in-process, such as a test or a benchmark, keeps its user's culture).
/// </summary>
public class CultureInvariantFormattingTests
{
    [Theory]
    [InlineData("de-DE")] // decimal comma, '.' between thousands
    [InlineData("fr-FR")] // decimal comma, no-break space between thousands and before '%'
    [InlineData("sv-SE")] // U+2212 minus sign
    public void Reports_and_log_lines_are_the_same_as_under_the_invariant_culture(string culture)
    {
        var invariant = Under(CultureInfo.InvariantCulture, FormatEverything);
        var local = Under(new CultureInfo(culture), FormatEverything);

        Assert.Equal(invariant, local);
        Assert.Contains("3.32 MB", invariant); // the comparison covers figures with decimals
    }

    private static string FormatEverything()
    {
        var searched = ExampleReports.Searched();
        var log = new RecordingLog();
        var progress = new SearchProgress(log, "accuracy", new ManualTime()) { Total = 3 };
        progress.Candidate(new CandidateProgress("int8", 877_420, 0.9165, 0.99, WithinBudgets: true));
        progress.Sensitivity("conv1", "int4", 0.0062, 1, 3);
        progress.Sensitivity("conv1", "int4", 0.0125, 2, 3, "predictions changed");
        return string.Join("\n",
        [
            ReportWriter.ToMarkdown(searched, "fashion-cnn.report.svg"),
            ReportWriter.ToMarkdown(ExampleReports.Failed()),
            .. ReportWriter.LogTable(searched),
            CandidateChart.ToSvg(searched),
            .. log.Lines,
            Quantity.FormatSize(11_878), Quantity.FormatSize(3_484_613),
            Quantity.FormatDuration(TimeSpan.FromMilliseconds(0.127)), Quantity.FormatDuration(TimeSpan.FromSeconds(2.5)),
            Quantity.FormatDuration(TimeSpan.FromTicks(5)),
            ReportWriter.Points(-0.0062), ReportWriter.Ratio(3_484_613, 626_688),
        ]);
    }

    private static string Under(CultureInfo culture, Func<string> format)
    {
        var saved = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = culture;
        try
        {
            return format();
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }
}
