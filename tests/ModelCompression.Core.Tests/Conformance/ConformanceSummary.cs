using System.Text;

namespace ModelCompression.Core.Tests.Conformance;

/// <summary>The human-readable account of a conformance run: counts, skip reasons by category, failures.</summary>
internal static class ConformanceSummary
{
    public static string Write(ConformanceRun run, string root)
    {
        var outcomes = run.Outcomes.OrderBy(o => o.Name, StringComparer.Ordinal).ToList();
        var checkedCases = outcomes.Where(o => o.Checked).ToList();
        var skipped = outcomes.Where(o => o.SkippedBecause is not null).ToList();
        var text = new StringBuilder();
        text.AppendLine($"Lossless pipeline conformance on {root} (ONNX Runtime, optimisations disabled)");
        text.AppendLine($"models found:   {outcomes.Count}");
        text.AppendLine($"checked:        {checkedCases.Count} (every output of every test data set compared with the original's)");
        text.AppendLine($"  changed by the pipeline and the name compaction: {checkedCases.Count(o => o.Changed)}");
        text.AppendLine($"  unchanged (byte-identical): {checkedCases.Count(o => !o.Changed)}");
        text.AppendLine($"skipped:        {skipped.Count}");
        foreach (var group in skipped.GroupBy(o => o.SkippedBecause!).OrderByDescending(g => g.Count()))
            text.AppendLine($"  {group.Count(),4}  {group.Key}  e.g. {string.Join(", ", group.Take(3).Select(o => o.Name))}");
        text.AppendLine($"mismatches:     {outcomes.Count(o => o.Mismatches.Count > 0)}");
        foreach (var o in outcomes.Where(o => o.Mismatches.Count > 0))
            text.AppendLine($"  {o.Name}: {string.Join("; ", o.Mismatches.Take(3))}");

        text.AppendLine("rewrites per pass (models it changed):");
        var reports = outcomes.Where(o => o.Report is not null).Select(o => o.Report!).ToList();
        foreach (var pass in reports.FirstOrDefault()?.Passes.Select(p => p.Pass) ?? [])
        {
            var counts = reports.Select(r => r.Passes.Single(p => p.Pass == pass).Rewrites).ToList();
            text.AppendLine($"  {pass,-28} {counts.Sum(),5} ({counts.Count(c => c > 0)})");
        }
        var passSkips = outcomes.Where(o => o.Report?.AnySkipped == true).ToList();
        text.AppendLine($"passes undone (model passed through unchanged by that pass): {passSkips.Count}");
        foreach (var o in passSkips)
            text.AppendLine($"  {o.Name}: {string.Join("; ", o.Report!.Passes.Where(p => p.Skipped))}");

        var typed = outcomes.Sum(o => o.OutputsTyped);
        text.AppendLine($"shape inference: {outcomes.Sum(o => o.OutputsFullyInferred)} of {typed} outputs fully inferred, " +
                        $"{outcomes.Sum(o => o.ShapeMismatches.Count)} disagreements with ONNX Runtime");
        foreach (var o in outcomes.Where(o => o.ShapeMismatches.Count > 0))
            text.AppendLine($"  {o.Name}: {string.Join("; ", o.ShapeMismatches)}");
        text.AppendLine($"time: {run.Elapsed.TotalSeconds:F1} s on {Environment.ProcessorCount} cores");
        return text.ToString();
    }
}
