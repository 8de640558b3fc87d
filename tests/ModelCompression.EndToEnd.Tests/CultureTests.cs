using System.Text.RegularExpressions;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>The worker is a build tool: its log and report read the same whatever the user's locale.</summary>
public sealed partial class CultureTests
{
    [Theory]
    [InlineData("LANG")]
    [InlineData("LC_ALL")]
    public void Under_a_German_locale_the_log_and_report_use_decimal_points(string variable)
    {
        var shared = SharedModels.Folder("digits-mlp");
        using var folder = new TempDirectory("mc culture");
        var report = folder.Combine("report");

        var result = WorkerCli.Run(folder.Path, new Dictionary<string, string> { [variable] = "de_DE.UTF-8" },
            "compress", Path.Combine(shared, "model.onnx"), "--output", folder.Combine("small.onnx"),
            "--validation-data", Path.Combine(shared, "validation.npz"), "--calibration-data", Path.Combine(shared, "calibration.npz"),
            "--techniques", "fusion;int8", "--report-dir", report, "--lock", folder.Combine("model.lock.json"));

        result.AssertSucceeded();
        Assert.Contains(" KB", result.Output); // sizes are printed, so the check below has something to check
        AssertInvariant(result.Output, result.Command.ToString());
        AssertInvariant(File.ReadAllText(Path.Combine(report, "model.report.md")), "model.report.md");
    }

    // German writes "11,6 KB", "0,9961", "1,05×" and "5 %" with a no-break space; the invariant culture "11.6 KB", "0.9961", "1.05×", "5 %".
    private static void AssertInvariant(string text, string context)
    {
        var local = LocalNumber().Matches(text).Select(m => m.Value).ToList();
        Assert.True(local.Count == 0, $"Locale-formatted numbers ({string.Join(", ", local.Distinct().Take(5))}) in:{Environment.NewLine}{context}");
    }

    [GeneratedRegex(@"\d,\d+\s?(KB|MB|B|ms|µs|s|pt|k|M|G)\b|\d,\d+×|\b\d,\d{4}\b|\d[\u00A0\u202F]%")]
    private static partial Regex LocalNumber();
}
