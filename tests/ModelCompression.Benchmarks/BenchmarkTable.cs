using System.Globalization;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Benchmarks;

/// <summary>The Markdown table the benchmark prints (and README quotes).</summary>
public static class BenchmarkTable
{
    public const string Header =
        "| model | metric | original | compressed | ratio | metric original → compressed | drop | latency ratio | chosen | search time |\n" +
        "|---|---|---:|---:|---:|---|---:|---:|---|---:|";

    public static string Row(BenchmarkModel model, CompressionReport report, double searchSeconds)
    {
        var chosen = report.Chosen;
        if (chosen is null)
            return $"| {model.Folder} | {report.Metric} | {Quantity.FormatSize(report.OriginalSizeBytes)} | failed | | {report.Failure} | | | | {searchSeconds:0} s |";
        return string.Create(CultureInfo.InvariantCulture,
            $"| {model.Folder} | {report.Metric} | {Quantity.FormatSize(report.OriginalSizeBytes)} | {Quantity.FormatSize(chosen.SizeBytes)} | " +
            $"{ReportWriter.Ratio(report.OriginalSizeBytes, chosen.SizeBytes)} | {ReportWriter.Score(report.OriginalScore)} → {ReportWriter.Score(chosen.ValidationScore!.Value)} | " +
            $"{ReportWriter.Points(chosen.ValidationDrop!.Value)} | {ReportWriter.Times(chosen.LatencyRatio!.Value)} | {chosen.Label} | {searchSeconds:0} s |");
    }
}
