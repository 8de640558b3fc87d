using System.Globalization;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Benchmarks;

/// <summary>
/// The searches the benchmark compares: quantization only, every technique with plain (nearest) rounding only, and every
/// technique with data-aware rounding offered too (the default).
/// </summary>
public sealed record BenchmarkMode(string Name, Technique Techniques, bool DataAwareRounding = true)
{
    public static BenchmarkMode QuantizationOnly { get; } = new("quantization only", Technique.Fusion | Technique.Int8 | Technique.Int4 | Technique.Fp16);

    public static BenchmarkMode CombinedNearest { get; } = new("combined, nearest rounding", Technique.All, DataAwareRounding: false);

    public static BenchmarkMode Combined { get; } = new("combined", Technique.All);

    /// <summary>The folder name of this mode's outputs.</summary>
    public string Folder => Name.Replace(", ", "-").Replace(' ', '-');
}

/// <summary>The Markdown table the benchmark prints (and README quotes): per model, one row per mode.</summary>
public static class BenchmarkTable
{
    public const string Header =
        "| model | techniques | metric | original | compressed | ratio | parameters | FLOPs | metric original → compressed | drop | latency ratio | chosen | search time | options predicted / measured alone / combinations measured |\n" +
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|---:|";

    public static string Row(BenchmarkModel model, BenchmarkMode mode, CompressionReport report, double searchSeconds)
    {
        var chosen = report.Chosen;
        if (chosen is null)
            return $"| {model.Folder} | {mode.Name} | {report.Metric} | {Quantity.FormatSize(report.OriginalSizeBytes)} | failed | | | | {report.Failure} | | | | {searchSeconds:0} s | {Work(report)} |";
        return string.Create(CultureInfo.InvariantCulture,
            $"| {model.Folder} | {mode.Name} | {report.Metric} | {Quantity.FormatSize(report.OriginalSizeBytes)} | {Quantity.FormatSize(chosen.SizeBytes)} | " +
            $"{ReportWriter.Ratio(report.OriginalSizeBytes, chosen.SizeBytes)} | {Change(report.OriginalParameterCount, chosen.ParameterCount)} | {Change(report.OriginalFlops, chosen.Flops)} | " +
            $"{ReportWriter.Score(report.OriginalScore)} → {ReportWriter.Score(chosen.ValidationScore!.Value)} | " +
            $"{ReportWriter.Points(chosen.ValidationDrop!.Value)} | {ReportWriter.Times(chosen.LatencyRatio!.Value)} | {chosen.Label.Replace("|", "\\|")} | {searchSeconds:0} s | {Work(report)} |");
    }

    private static string Work(CompressionReport report) => $"{report.OptionsPredicted} / {report.OptionsMeasured} / {report.Candidates.Count}";

    // "870.6k → 215.0k"; one figure when it did not change.
    private static string Change(long? original, long? compressed) => (original, compressed) switch
    {
        ({ } o, { } c) when o == c => ReportWriter.CompactCount(o),
        ({ } o, { } c) => $"{ReportWriter.CompactCount(o)} → {ReportWriter.CompactCount(c)}",
        _ => "",
    };
}
