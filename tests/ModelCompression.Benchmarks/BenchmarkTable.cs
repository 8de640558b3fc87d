using System.Globalization;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Benchmarks;

/// <summary>The technique sets the benchmark compares: the previous issue's quantization-only search against every technique.</summary>
public sealed record BenchmarkMode(string Name, Technique Techniques)
{
    public static BenchmarkMode QuantizationOnly { get; } = new("quantization only", Technique.Fusion | Technique.Int8 | Technique.Int4 | Technique.Fp16);

    public static BenchmarkMode Combined { get; } = new("combined", Technique.All);

    /// <summary>The folder name of this mode's outputs.</summary>
    public string Folder => Name.Replace(' ', '-');
}

/// <summary>The Markdown table the benchmark prints (and README quotes): per model, one row per mode.</summary>
public static class BenchmarkTable
{
    public const string Header =
        "| model | techniques | metric | original | compressed | ratio | parameters | FLOPs | metric original → compressed | drop | latency ratio | chosen | search time |\n" +
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|---:|";

    public static string Row(BenchmarkModel model, BenchmarkMode mode, CompressionReport report, double searchSeconds)
    {
        var chosen = report.Chosen;
        if (chosen is null)
            return $"| {model.Folder} | {mode.Name} | {report.Metric} | {Quantity.FormatSize(report.OriginalSizeBytes)} | failed | | | | {report.Failure} | | | | {searchSeconds:0} s |";
        return string.Create(CultureInfo.InvariantCulture,
            $"| {model.Folder} | {mode.Name} | {report.Metric} | {Quantity.FormatSize(report.OriginalSizeBytes)} | {Quantity.FormatSize(chosen.SizeBytes)} | " +
            $"{ReportWriter.Ratio(report.OriginalSizeBytes, chosen.SizeBytes)} | {Change(report.OriginalParameterCount, chosen.ParameterCount)} | {Change(report.OriginalFlops, chosen.Flops)} | " +
            $"{ReportWriter.Score(report.OriginalScore)} → {ReportWriter.Score(chosen.ValidationScore!.Value)} | " +
            $"{ReportWriter.Points(chosen.ValidationDrop!.Value)} | {ReportWriter.Times(chosen.LatencyRatio!.Value)} | {chosen.Label.Replace("|", "\\|")} | {searchSeconds:0} s |");
    }

    // "870.6k → 215.0k"; one figure when it did not change.
    private static string Change(long? original, long? compressed) => (original, compressed) switch
    {
        ({ } o, { } c) when o == c => ReportWriter.CompactCount(o),
        ({ } o, { } c) => $"{ReportWriter.CompactCount(o)} → {ReportWriter.CompactCount(c)}",
        _ => "",
    };
}
