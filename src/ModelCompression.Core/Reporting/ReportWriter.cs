using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using ModelCompression.Core.IO;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Reporting;

/// <summary>
/// Writes a <see cref="CompressionReport"/> as <c>{name}.report.json</c>, <c>{name}.report.md</c>
/// and the chart <c>{name}.report.svg</c> the Markdown links; and the few lines of the build log.
/// </summary>
public static class ReportWriter
{
    /// <summary>The build log shows at most this many candidates: the chosen one and the best trade-offs.</summary>
    public const int LogCandidates = 6;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>Writes the JSON, the SVG chart and the Markdown report into <paramref name="directory"/>, each atomically.</summary>
    /// <returns>The Markdown report's path.</returns>
    public static string Write(CompressionReport report, string directory, string name)
    {
        var chart = $"{name}.report.svg";
        AtomicFile.WriteAllText(Path.Combine(directory, $"{name}.report.json"), ToJson(report));
        AtomicFile.WriteAllText(Path.Combine(directory, chart), CandidateChart.ToSvg(report));
        var markdown = Path.Combine(directory, $"{name}.report.md");
        AtomicFile.WriteAllText(markdown, ToMarkdown(report, chart));
        return markdown;
    }

    public static string ToJson(CompressionReport report) => JsonSerializer.Serialize(report, JsonOptions) + "\n";

    public static CompressionReport FromJson(string json) =>
        JsonSerializer.Deserialize<CompressionReport>(json, JsonOptions) ?? throw new JsonException("The report is empty.");

    /// <param name="chartFile">The chart's file name beside the report, linked at the top; null links none.</param>
    public static string ToMarkdown(CompressionReport report, string? chartFile = null)
    {
        var text = new StringBuilder();
        var metric = report.Metric;
        text.AppendLine($"# Compression report: {Path.GetFileName(report.Model)}");
        text.AppendLine();
        if (report.Chosen is { } chosen)
        {
            var judged = chosen.ValidationScore is { } v ? $"{metric} {Score(v)} on the validation set ({Change(chosen.ValidationDrop ?? report.OriginalScore - v)})"
                                                         : $"{metric} {Score(chosen.Score)} ({Change(chosen.Drop)})";
            var latency = chosen.LatencyRatio is { } r ? $", latency {Times(r)} the original's" : "";
            text.AppendLine($"**Chosen: {chosen.Label}**: {Quantity.FormatSize(chosen.SizeBytes)} ({Ratio(report.OriginalSizeBytes, chosen.SizeBytes)} smaller), {judged}{latency}.{StatisticsChange(report, chosen)}");
            if (chosen.ExpandedAtLoad)
            {
                text.AppendLine();
                text.AppendLine(RuntimeMemoryNote(chosen));
            }
        }
        if (report.Failure is { } failure)
        {
            text.AppendLine($"**The budgets were not met.** {failure}");
            if (report.BestFailing is { } best)
            {
                text.AppendLine();
                text.AppendLine($"Closest candidate: {best.Label}, {Quantity.FormatSize(best.SizeBytes)}, {metric} {Score(best.ValidationScore ?? best.Score)} ({Change(best.ValidationDrop ?? best.Drop)}).");
            }
        }
        text.AppendLine();
        if (chartFile is not null)
        {
            text.AppendLine($"![candidates]({chartFile})");
            text.AppendLine();
        }

        text.AppendLine($"- Model: `{report.Model}`: {Quantity.FormatSize(report.OriginalSizeBytes)}, {metric} {Score(report.OriginalScore)} on {report.ValidationSamples} samples of `{report.ValidationData}`" +
                        (report.OriginalLatencyMilliseconds is { } ms ? $", {Milliseconds(ms)} per run" : "") +
                        (report.OriginalParameterCount is { } p ? $", {Count(p)} parameters" : "") +
                        (report.OriginalFlops is { } f ? $", {CompactCount(f)} FLOPs per batch-1 run" : ""));
        text.AppendLine($"- {SearchText(report)}");
        text.AppendLine($"- Budgets: {BudgetText(report.Budgets)}");
        text.AppendLine($"- Tool: ModelCompression.Build {report.ToolVersion}");
        text.AppendLine();

        AppendDistillation(text, report);
        AppendCandidates(text, report);
        AppendSensitivity(text, report);
        if (report.Notes.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("## Notes");
            text.AppendLine();
            foreach (var note in report.Notes) text.AppendLine($"- {note}");
        }
        return text.ToString();
    }

    private static void AppendDistillation(StringBuilder text, CompressionReport report)
    {
        if (report.Distillation is not { } distillation) return;
        string Best(CandidateSummary? c) => c is null ? "none within the budgets" :
            $"{c.Label}: {Quantity.FormatSize(c.SizeBytes)} ({Ratio(report.OriginalSizeBytes, c.SizeBytes)} smaller), {report.Metric} {Score(c.ValidationScore ?? c.Score)}";
        text.AppendLine("## Distillation");
        text.AppendLine();
        text.AppendLine("| | best plan |");
        text.AppendLine("|---|---|");
        text.AppendLine($"| without distillation | {Best(distillation.WithoutDistillation)} |");
        text.AppendLine($"| with distillation | {Best(distillation.WithDistillation)} |");
        text.AppendLine();
        text.AppendLine($"| sketch distilled | size | {report.Metric} untrained: search split | validation | distilled: search split | validation | epochs |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var sketch in distillation.Sketches)
            text.AppendLine($"| {sketch.Label} | {Quantity.FormatSize(sketch.SizeBytes)} | {Score(sketch.UntrainedScore)} | {Score(sketch.UntrainedValidationScore)} | " +
                            $"{Score(sketch.DistilledScore)} | {Score(sketch.DistilledValidationScore)} | {sketch.Epochs} |");
        text.AppendLine();
    }

    // " Parameters 870,634 → 215,012, FLOPs per batch-1 run 38.2M (unchanged)." for what was counted on both sides.
    private static string StatisticsChange(CompressionReport report, CandidateSummary c)
    {
        var parts = new List<string>();
        static string Change(long before, long after, Func<long, string> format) =>
            before == after ? $"{format(after)} (unchanged)" : $"{format(before)} → {format(after)}";
        if ((report.OriginalParameterCount, c.ParameterCount) is ({ } p0, { } p1)) parts.Add($"parameters {Change(p0, p1, Count)}");
        if ((report.OriginalFlops, c.Flops) is ({ } f0, { } f1)) parts.Add($"FLOPs per batch-1 run {Change(f0, f1, CompactCount)}");
        if (parts.Count == 0) return "";
        var text = string.Join(", ", parts);
        return $" {char.ToUpperInvariant(text[0])}{text[1..]}.";
    }

    /// <summary>What a palettized (or masked sparse) model costs once loaded: the file is small, the session's weights are floats again.</summary>
    public static string RuntimeMemoryNote(CandidateSummary c) =>
        $"**Runtime memory:** this plan stores weights as palette codes (or masked sparse values), which ONNX Runtime expands to float " +
        $"when it loads the model: the file is {Quantity.FormatSize(c.SizeBytes)}, but a loaded session holds those weights as float32, " +
        "so its memory does not shrink with the file" +
        (c.ParameterCount is { } p ? $" (the model's {Count(p)} parameters take {Quantity.FormatSize(4 * p)} as float32)." : ".");

    /// <summary>The footnote of the candidates whose weights are expanded when the model loads.</summary>
    public const string ExpandedAtLoadFootnote =
        "† palette codes or masked sparse values: ONNX Runtime expands these weights to float when it loads the model, so a loaded session's memory does not shrink with the file.";

    private static string SearchText(CompressionReport report)
    {
        var duration = report.SearchSeconds is { } s ? $" in {Duration(TimeSpan.FromSeconds(s))}" : "";
        var lockFile = report.LockFile is { } f ? $"`{f}`" : "the plan lock";
        if (report.PlanSource == PlanSource.Lock)
            return $"Plan: from {lockFile}, applied without a search and measured again{duration}";
        var ranked = report.SearchSamples is { } n
            ? $", ranked on {n} samples of `{report.SearchData}`" + (report.OriginalSearchScore is { } o ? $" (where the original scores {Score(o)})" : "") + ", judged on the validation set"
            : ", ranked and judged on the validation set";
        var stale = report.StaleLockReasons.Count > 0 ? $"; the lock was stale ({string.Join("; ", report.StaleLockReasons)})" : "";
        var written = report.LockFile is { } written1 && report.Chosen is not null ? $"; plan locked in `{written1}`" : "";
        var predicted = report.OptionsPredicted is { } p
            ? $"; {p} layer options predicted from layer statistics, {report.OptionsMeasured ?? 0} options measured alone, {report.Candidates.Count} combinations measured" : "";
        var timedOut = report.SearchTimedOut ? "; stopped by the search time (MC4101): this plan depends on the machine's speed" : "";
        return $"Search: {report.Candidates.Count} candidates{duration}{ranked}{predicted}{stale}{timedOut}{written}";
    }

    private static void AppendCandidates(StringBuilder text, CompressionReport report)
    {
        var metric = report.Metric;
        var split = report.SearchSamples is not null;
        var latency = report.OriginalLatencyMilliseconds is not null || report.Candidates.Any(c => c.LatencyMilliseconds is not null || c.LatencyRatio is not null);
        var parameters = report.OriginalParameterCount is not null || report.Candidates.Any(c => c.ParameterCount is not null);
        var flops = report.OriginalFlops is not null || report.Candidates.Any(c => c.Flops is not null);

        var header = new List<string> { "", "candidate", "size" };
        header.Add(split ? $"{metric} (search)" : metric);
        if (split) header.Add($"{metric} (validation)");
        if (latency) header.Add("latency");
        if (parameters) header.Add("parameters");
        if (flops) header.Add("FLOPs");
        header.Add("budgets");
        text.AppendLine("## Candidates");
        text.AppendLine();
        text.AppendLine($"| {string.Join(" | ", header)} |");
        text.AppendLine($"|{string.Join("|", header.Select((_, i) => i is 0 ? ":-:" : i is 1 || i == header.Count - 1 ? "---" : "--:"))}|");

        var original = new List<string> { "", "original", Quantity.FormatSize(report.OriginalSizeBytes) };
        original.Add(Score(split ? report.OriginalSearchScore ?? report.OriginalScore : report.OriginalScore));
        if (split) original.Add(Score(report.OriginalScore));
        if (latency) original.Add(report.OriginalLatencyMilliseconds is { } ms ? Milliseconds(ms) : "");
        if (parameters) original.Add(report.OriginalParameterCount is { } p ? Count(p) : "");
        if (flops) original.Add(report.OriginalFlops is { } f ? CompactCount(f) : "");
        original.Add("");
        text.AppendLine($"| {string.Join(" | ", original)} |");

        foreach (var c in report.Candidates)
        {
            var expanded = c.ExpandedAtLoad ? " †" : "";
            var row = new List<string> { c.Chosen ? "✓" : "", Cell(c.Label), $"{Quantity.FormatSize(c.SizeBytes)} ({Ratio(report.OriginalSizeBytes, c.SizeBytes)}){expanded}" };
            if (split)
            {
                row.Add($"{Score(c.Score)} ({Change(c.Drop)})");
                row.Add(c.ValidationScore is { } v ? $"{Score(v)} ({Change(c.ValidationDrop ?? report.OriginalScore - v)})" : "");
            }
            else
            {
                var (score, drop) = c.ValidationScore is { } v ? (v, c.ValidationDrop ?? report.OriginalScore - v) : (c.Score, c.Drop);
                row.Add($"{Score(score)} ({Change(drop)})");
            }
            if (latency) row.Add(LatencyText(c));
            if (parameters) row.Add(c.ParameterCount is { } p ? Count(p) : "");
            if (flops) row.Add(c.Flops is { } f ? CompactCount(f) : "");
            row.Add(Verdict(c));
            text.AppendLine($"| {string.Join(" | ", row)} |");
        }
        if (report.Candidates.Any(c => c.ExpandedAtLoad))
        {
            text.AppendLine();
            text.AppendLine(ExpandedAtLoadFootnote);
        }

        if (report.Candidates.Count == 0) return;
        text.AppendLine();
        text.AppendLine("<details><summary>The plans</summary>");
        text.AppendLine();
        for (var i = 0; i < report.Candidates.Count; i++)
            text.AppendLine($"{i + 1}. {Cell(report.Candidates[i].Label)}: `{report.Candidates[i].Plan}`");
        text.AppendLine();
        text.AppendLine("</details>");
    }

    private static void AppendSensitivity(StringBuilder text, CompressionReport report)
    {
        if (report.Sensitivity.Count == 0) return;
        text.AppendLine();
        text.AppendLine("## Node sensitivity");
        text.AppendLine();
        // With accuracy the planner measures changed predictions (see CandidateEvaluator.SensitivityOf).
        var measure = report.Metric == "accuracy"
            ? "the share of predictions on the search split that changed (finer than accuracy on a few hundred samples, and it adds up)"
            : $"how far the {report.Metric} fell on the search split";
        text.AppendLine($"Each node compressed alone at its smallest setting, and {measure}; the planner weighs these against the bytes each setting saves. " +
                        "Values marked * are predicted from the layer's output error on its calibration inputs, scaled by one option of the layer measured alone.");
        text.AppendLine();
        text.AppendLine(report.Metric == "accuracy" ? "| node | op | alone at | changed alone | ended as | why |" : "| node | op | alone at | drop alone | ended as | why |");
        text.AppendLine("|---|---|---|--:|---|---|");
        foreach (var n in report.Sensitivity.OrderByDescending(n => n.DropAlone).ThenBy(n => n.Node, StringComparer.Ordinal))
            text.AppendLine($"| {Cell(n.Node)} | {Cell(n.OpType)} | {n.Tried} | {DropPoints(n.DropAlone)}{(n.Predicted ? "*" : "")} | {n.Final} | {Cell(FallbackReason(n))} |");
    }

    /// <summary>
    /// The few lines the build log shows: the original, then every candidate when there are at most
    /// <see cref="LogCandidates"/>, else the chosen one (or the closest) and the best trade-offs of size against score.
    /// </summary>
    public static IEnumerable<string> LogTable(CompressionReport report)
    {
        var split = report.SearchSamples is not null;
        var latency = report.OriginalLatencyMilliseconds is not null || report.Candidates.Any(c => c.LatencyRatio is not null);
        var shown = LogSelection(report);
        var counted = report.OriginalParameterCount is not null || shown.Any(c => c.ParameterCount is not null);
        string Row(string mark, string label, string size, string score, string validation, string time, string parameters, string flops) =>
            ($"{mark} {label,-30} {size,10} {score,10}" + (split ? $" {validation,10}" : "") + (latency ? $" {time,9}" : "")
             + (counted ? $" {parameters,7} {flops,7}" : "")).TrimEnd();
        static string Compact(long? n) => n is { } value ? CompactCount(value) : "";

        yield return Row(" ", "technique", "size", report.Metric, "validation", "latency", "params", "FLOPs");
        yield return Row(" ", "original", Quantity.FormatSize(report.OriginalSizeBytes), Score(report.OriginalSearchScore ?? report.OriginalScore),
            Score(report.OriginalScore), report.OriginalLatencyMilliseconds is { } ms ? Milliseconds(ms) : "",
            Compact(report.OriginalParameterCount), Compact(report.OriginalFlops));
        foreach (var c in shown)
            yield return Row(c.Chosen ? "✓" : " ", Truncate(c.Label, 30), Quantity.FormatSize(c.SizeBytes), Score(split ? c.Score : c.ValidationScore ?? c.Score),
                c.ValidationScore is { } v ? Score(v) : "", c.LatencyRatio is { } r ? Times(r) : "", Compact(c.ParameterCount), Compact(c.Flops));
        var more = report.Candidates.Count - shown.Count;
        if (more > 0) yield return $"  (and {more} more candidate{(more == 1 ? "" : "s")} in the report)";
    }

    // All candidates when they are few; else the chosen (or closest) one and the best trade-offs: those no other candidate beats on both size and score.
    internal static List<CandidateSummary> LogSelection(CompressionReport report)
    {
        if (report.Candidates.Count <= LogCandidates) return report.Candidates.ToList();
        var highlighted = report.Chosen ?? report.BestFailing;
        var front = report.Candidates
            .Where(c => c != highlighted && !report.Candidates.Any(d => d.SizeBytes <= c.SizeBytes && d.Score >= c.Score && (d.SizeBytes < c.SizeBytes || d.Score > c.Score)))
            .Take(highlighted is null ? LogCandidates : LogCandidates - 1);
        return (highlighted is null ? front : front.Append(highlighted)).OrderByDescending(c => c.SizeBytes).ToList();
    }

    /// <summary>"within", or which budgets the candidate breaks.</summary>
    public static string Verdict(CandidateSummary c)
    {
        if (c.WithinBudgets) return c.Chosen ? "within: chosen" : "within";
        var broken = new List<string>();
        if (!c.MeetsAccuracy) broken.Add("accuracy");
        if (!c.MeetsSize) broken.Add("size");
        if (c.MeetsLatency == false) broken.Add("latency");
        return "breaks " + string.Join(", ", broken);
    }

    /// <summary>Why a node fell back, e.g. "int4 → int8: 0.62 pt alone"; empty when it kept the setting it was measured at.</summary>
    public static string FallbackReason(NodeSensitivity node) =>
        node.Reason ?? (node.Final == node.Tried ? "" : $"{node.Tried} → {node.Final}: {DropPoints(node.DropAlone)} alone");

    public static string BudgetText(BudgetSummary budgets)
    {
        var parts = new List<string> { $"accuracy drop ≤ {DropPoints(budgets.MaxAccuracyDrop)}" };
        if (budgets.MaxSizeBytes is { } size) parts.Add($"size ≤ {Quantity.FormatSize(size)}");
        parts.Add(budgets.MaxLatencyMilliseconds is { } latency ? $"latency ≤ {Milliseconds(latency)}" : "latency not above the original's");
        return string.Join(", ", parts);
    }

    public static string Score(double score) => score.ToString("0.0000", CultureInfo.InvariantCulture);

    /// <summary>A score difference in percentage points, e.g. "+0.12 pt".</summary>
    public static string Points(double drop) => (100 * drop).ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pt";

    /// <summary>A drop in percentage points, unsigned when it is one: 0.0062 is "0.62 pt" (a rise is "-0.10 pt").</summary>
    public static string DropPoints(double drop) => (100 * drop).ToString("0.00;-0.00;0.00", CultureInfo.InvariantCulture) + " pt";

    /// <summary>How a score changed, from its drop: a drop of 0.0088 is "-0.88 pt".</summary>
    public static string Change(double drop) => Points(-drop);

    public static string Ratio(long original, long compressed) =>
        (original / (double)Math.Max(1, compressed)).ToString("0.0", CultureInfo.InvariantCulture) + "×";

    /// <summary>A latency ratio, e.g. "0.93×".</summary>
    public static string Times(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture) + "×";

    public static string Milliseconds(double ms) => ms.ToString(ms < 1 ? "0.000" : ms < 100 ? "0.00" : "0", CultureInfo.InvariantCulture) + " ms";

    /// <summary>An elapsed time as a clock reads it: "0:42", "12:05", "1:02:03".</summary>
    public static string Duration(TimeSpan elapsed) =>
        elapsed.TotalHours >= 1
            ? $"{(int)elapsed.TotalHours}:{elapsed.Minutes:00}:{elapsed.Seconds:00}"
            : $"{(int)elapsed.TotalMinutes}:{elapsed.Seconds:00}";

    private static string LatencyText(CandidateSummary c) => (c.LatencyMilliseconds, c.LatencyRatio) switch
    {
        ({ } ms, { } r) => $"{Milliseconds(ms)} ({Times(r)})",
        ({ } ms, null) => Milliseconds(ms),
        (null, { } r) => Times(r),
        _ => "",
    };

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>A count in compact units, one decimal: 980, 870.6k, 12.5M, 1.2G.</summary>
    public static string CompactCount(long n) => n switch
    {
        < 1000 => n.ToString(CultureInfo.InvariantCulture),
        < 999_950 => (n / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + "k",
        < 999_950_000 => (n / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + "M",
        _ => (n / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + "G",
    };

    // A '|' would end the table cell.
    private static string Cell(string text) => text.Replace("|", "\\|");

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
