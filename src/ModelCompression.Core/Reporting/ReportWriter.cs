using System.Globalization;
using System.Text;
using System.Text.Json;
using ModelCompression.Core.IO;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Reporting;

/// <summary>Writes a <see cref="CompressionReport"/> as <c>{name}.report.json</c> and <c>{name}.report.md</c>.</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
    };

    /// <returns>The Markdown report's path.</returns>
    public static string Write(CompressionReport report, string directory, string name)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, $"{name}.report.json"), ToJson(report));
        var markdown = Path.Combine(directory, $"{name}.report.md");
        AtomicFile.WriteAllText(markdown, ToMarkdown(report));
        return markdown;
    }

    public static string ToJson(CompressionReport report) => JsonSerializer.Serialize(report, JsonOptions) + "\n";

    public static CompressionReport FromJson(string json) =>
        JsonSerializer.Deserialize<CompressionReport>(json, JsonOptions) ?? throw new JsonException("The report is empty.");

    public static string ToMarkdown(CompressionReport report)
    {
        var text = new StringBuilder();
        var metric = report.Metric;
        text.AppendLine($"# Compression report: {Path.GetFileName(report.Model)}");
        text.AppendLine();
        text.AppendLine($"- Model: `{report.Model}` ({Quantity.FormatSize(report.OriginalSizeBytes)})");
        text.AppendLine($"- Metric: {metric} on {report.ValidationSamples} samples of `{report.ValidationData}`; original scores {Score(report.OriginalScore)}");
        text.AppendLine($"- Budgets: {BudgetText(report.Budgets)}");
        text.AppendLine($"- Tool: ModelCompression.Build {report.ToolVersion}");
        text.AppendLine();
        if (report.Chosen is { } chosen)
            text.AppendLine($"**Chosen: {chosen.Label}** — {Quantity.FormatSize(chosen.SizeBytes)} ({Ratio(report.OriginalSizeBytes, chosen.SizeBytes)} smaller), {metric} {Score(chosen.Score)} (drop {Points(chosen.Drop)}).");
        if (report.Failure is { } failure)
        {
            text.AppendLine($"**The budgets were not met.** {failure}");
            if (report.BestFailing is { } best)
                text.AppendLine($"Closest candidate: {best.Label}, {Quantity.FormatSize(best.SizeBytes)}, {metric} {Score(best.Score)} (drop {Points(best.Drop)}).");
        }
        text.AppendLine();
        text.AppendLine($"| candidate | size | {metric} | drop | within budgets | plan |");
        text.AppendLine("|---|---:|---:|---:|:---:|---|");
        text.AppendLine($"| original | {Quantity.FormatSize(report.OriginalSizeBytes)} | {Score(report.OriginalScore)} | | | |");
        foreach (var c in report.Candidates)
        {
            var mark = c.Chosen ? "✓ chosen" : c.MeetsAccuracy && c.MeetsSize ? "yes" : !c.MeetsAccuracy ? "no: accuracy" : "no: size";
            text.AppendLine($"| {c.Label} | {Quantity.FormatSize(c.SizeBytes)} | {Score(c.Score)} | {Points(c.Drop)} | {mark} | `{c.Plan}` |");
        }
        if (report.Notes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## Notes");
            foreach (var note in report.Notes) text.AppendLine($"- {note}");
        }
        return text.ToString();
    }

    /// <summary>The few lines the build log shows.</summary>
    public static IEnumerable<string> LogTable(CompressionReport report)
    {
        yield return $"  {"candidate",-30} {"size",10} {report.Metric,10} {"drop",9}";
        yield return $"  {"original",-30} {Quantity.FormatSize(report.OriginalSizeBytes),10} {Score(report.OriginalScore),10}";
        foreach (var c in report.Candidates)
            yield return $"{(c.Chosen ? "✓" : " ")} {c.Label,-30} {Quantity.FormatSize(c.SizeBytes),10} {Score(c.Score),10} {Points(c.Drop),9}";
    }

    public static string BudgetText(BudgetSummary budgets)
    {
        var parts = new List<string> { $"accuracy drop ≤ {Points(budgets.MaxAccuracyDrop)}" };
        if (budgets.MaxSizeBytes is { } size) parts.Add($"size ≤ {Quantity.FormatSize(size)}");
        if (budgets.MaxLatencyMilliseconds is { } latency) parts.Add($"latency ≤ {latency.ToString("0.###", CultureInfo.InvariantCulture)} ms");
        return string.Join(", ", parts);
    }

    public static string Score(double score) => score.ToString("0.0000", CultureInfo.InvariantCulture);

    /// <summary>A score difference in percentage points, e.g. "+0.12 pt".</summary>
    public static string Points(double drop) => (100 * drop).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pt";

    public static string Ratio(long original, long compressed) =>
        (original / (double)Math.Max(1, compressed)).ToString("0.0", CultureInfo.InvariantCulture) + "×";
}
