using System.Globalization;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Picks the model to ship: the smallest candidate within every budget on the search split that also
/// holds its accuracy budget on the full validation data. When none does, the error names the
/// binding budget (MC4001 accuracy, MC4002 size, MC4003 latency) with measured against allowed, and
/// the closest candidate.
/// </summary>
/// <param name="Judged">The candidates scored on the validation data, in the order they were tried.</param>
public sealed record CandidateSelection(Candidate? Chosen, Candidate? BestFailing, Diagnostic? Failure, IReadOnlyList<Candidate> Judged)
{
    /// <summary>
    /// How many distinct sketches (per-layer settings, whatever the shared knobs) are judged on the
    /// validation data before giving up. Knob variants of a sketch that failed there are skipped: they
    /// differ little in accuracy, and judging them would crowd out safer sketches.
    /// </summary>
    public const int MaxJudged = 8;

    /// <summary>Sizes this close are the same in practice; among them the better scoring candidate is preferred.</summary>
    public const double SizeTie = 0.02;

    /// <param name="searchDrop">The accuracy drop a candidate may show on the search split to be judged (default: the budget's).</param>
    /// <param name="searchMargin">What a candidate may show beyond <paramref name="searchDrop"/> and still be judged (default: nothing).</param>
    public static CandidateSelection Select(IReadOnlyList<Candidate> candidates, Budgets budgets, Func<Candidate, Candidate> judge, string modelFile,
        double? searchDrop = null, Func<Candidate, double>? searchMargin = null)
    {
        var judged = new List<Candidate>();
        var allowedDrop = searchDrop ?? budgets.MaxAccuracyDrop;
        var eligible = candidates.Where(c => (budgets with { MaxAccuracyDrop = allowedDrop + (searchMargin?.Invoke(c) ?? 0) }).AllowsDrop(c.Search.Drop)
                                             && budgets.AllowsSize(c.SizeBytes) && budgets.AllowsLatency(c.Latency));
        var failedSketches = new HashSet<CompressionSketch>();
        foreach (var candidate in SmallestFirst(eligible))
        {
            var sketch = candidate.Sketch ?? CompressionSketch.Unchanged;
            if (failedSketches.Contains(sketch)) continue;
            if (failedSketches.Count == MaxJudged) break;
            var withValidation = judge(candidate);
            judged.Add(withValidation);
            if (budgets.AllowsDrop(withValidation.Validation!.Drop)) return new(withValidation, null, null, judged);
            failedSketches.Add(sketch);
        }

        if (judged.Count > 0)
        {
            var best = judged.MaxBy(c => c.Validation!.Score)!;
            return new(null, best, AccuracyError(modelFile, budgets,
                $"{judged.Count} candidate(s) held the budget on the search split but not on the full validation data; the best there, {best.Label}, " +
                $"scores {ReportWriter.Score(best.Validation!.Score)} against the original's {ReportWriter.Score(best.Validation.OriginalScore)}, a drop of {ReportWriter.Points(best.Validation.Drop)}"), judged);
        }

        // Nothing small enough at all: size is the binding budget. Something small enough but never accurate
        // enough: accuracy is. Small and accurate enough but slower: latency is.
        var small = candidates.Where(c => budgets.AllowsSize(c.SizeBytes)).ToList();
        if (small.Count == 0)
        {
            var accurate = candidates.Where(c => budgets.AllowsDrop(c.Search.Drop)).ToList();
            var smallest = judge((accurate.Count > 0 ? accurate : candidates).MinBy(c => c.SizeBytes)!);
            var which = accurate.Count > 0 ? "the smallest within MaxAccuracyDrop" : "the smallest candidate";
            return new(null, smallest, Diagnostic.Error(DiagnosticCode.SizeBudgetNotMet, modelFile,
                $"No candidate fits MaxSize: {which}, {smallest.Label}, is {Quantity.FormatSize(smallest.SizeBytes)} ({smallest.SizeBytes} bytes) " +
                $"where MaxSize allows {Quantity.FormatSize(budgets.MaxSizeBytes!.Value)} ({budgets.MaxSizeBytes} bytes). Raise MaxSize, or MaxAccuracyDrop so that more aggressive techniques qualify."), [smallest]);
        }
        var smallAndAccurate = small.Where(c => budgets.AllowsDrop(c.Search.Drop)).ToList();
        if (smallAndAccurate.Count == 0)
        {
            var closest = judge(small.MaxBy(c => c.Search.Score)!);
            return new(null, closest, AccuracyError(modelFile, budgets,
                $"the best within MaxSize, {closest.Label}, scores {ReportWriter.Score(closest.Search.Score)} against the original's {ReportWriter.Score(closest.Search.OriginalScore)} on the search split, a drop of {ReportWriter.Points(closest.Search.Drop)}"), [closest]);
        }
        var fastest = judge(smallAndAccurate.MinBy(c => c.Latency.Candidate)!);
        var allowed = budgets.MaxLatency is { } max
            ? $"MaxLatency allows {Quantity.FormatDuration(max)}"
            : string.Create(CultureInfo.InvariantCulture, $"without MaxLatency the model may not be slower than the original ({Quantity.FormatDuration(fastest.Latency.Baseline)}, +{Budgets.LatencyTolerance:P0} for noise)");
        return new(null, fastest, Diagnostic.Error(DiagnosticCode.LatencyBudgetNotMet, modelFile,
            $"No candidate is fast enough: the fastest within the other budgets, {fastest.Label}, takes {Quantity.FormatDuration(fastest.Latency.Candidate)} " +
            $"({ReportWriter.Times(fastest.Latency.Ratio)} the original's) per batch-1 run, and {allowed}. Raise MaxLatency, or allow the techniques that are faster on this machine."), [fastest]);
    }

    /// <summary>
    /// By size, except among candidates within <see cref="SizeTie"/> of the smallest remaining: there the best scoring
    /// goes first, then the smallest, then the plan's text. Latency only decides whether a candidate is eligible (its
    /// budget), never the order: timings vary with the machine's load, and the choice must not.
    /// </summary>
    private static IEnumerable<Candidate> SmallestFirst(IEnumerable<Candidate> candidates)
    {
        var remaining = candidates.OrderBy(c => c.SizeBytes).ThenByDescending(c => c.Search.Score).ThenBy(c => c.Plan.ToString(), StringComparer.Ordinal).ToList();
        while (remaining.Count > 0)
        {
            var limit = remaining[0].SizeBytes * (1 + SizeTie);
            var tied = remaining.TakeWhile(c => c.SizeBytes <= limit).ToList();
            remaining.RemoveRange(0, tied.Count);
            foreach (var c in tied.OrderByDescending(c => c.Search.Score).ThenBy(c => c.SizeBytes).ThenBy(c => c.Plan.ToString(), StringComparer.Ordinal))
                yield return c;
        }
    }

    private static Diagnostic AccuracyError(string modelFile, Budgets budgets, string measured) =>
        Diagnostic.Error(DiagnosticCode.AccuracyBudgetNotMet, modelFile,
            $"No candidate keeps the accuracy within MaxAccuracyDrop: {measured}, where {ReportWriter.Points(budgets.MaxAccuracyDrop)} is allowed. Raise MaxAccuracyDrop or MaxSize.");
}
