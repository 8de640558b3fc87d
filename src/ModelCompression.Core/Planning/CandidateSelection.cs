using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>
/// The smallest candidate within every budget; when there is none, the binding budget's error
/// (MC4001 accuracy, MC4002 size) with measured against allowed, and the closest candidate.
/// </summary>
/// <param name="BestFailing">The candidate to show the user when nothing met the budgets.</param>
public sealed record CandidateSelection(Candidate? Chosen, Candidate? BestFailing, Diagnostic? Failure)
{
    public static CandidateSelection Select(IReadOnlyList<Candidate> candidates, double originalScore, Budgets budgets, string modelFile)
    {
        bool Accurate(Candidate c) => budgets.AllowsDrop(c.Drop(originalScore));
        bool Fits(Candidate c) => budgets.AllowsSize(c.SizeBytes);

        var within = candidates.Where(c => Accurate(c) && Fits(c)).ToList();
        if (within.Count > 0) return new(Smallest(within), null, null);

        var fitSize = candidates.Where(Fits).ToList();
        if (fitSize.Count > 0)
        {
            var best = fitSize.MaxBy(c => c.Score)!;
            return new(null, best, Diagnostic.Error(DiagnosticCode.AccuracyBudgetNotMet, modelFile,
                $"No candidate keeps the accuracy within MaxAccuracyDrop: the best within MaxSize ({Quantity.FormatSize(budgets.MaxSizeBytes ?? 0)}), {best.Label}, " +
                $"scores {ReportWriter.Score(best.Score)} against the original's {ReportWriter.Score(originalScore)}, a drop of {ReportWriter.Points(best.Drop(originalScore))} where {ReportWriter.Points(budgets.MaxAccuracyDrop)} is allowed. " +
                "Raise MaxAccuracyDrop or MaxSize."));
        }

        var accurate = candidates.Where(Accurate).ToList();
        var closest = Smallest(accurate.Count > 0 ? accurate : candidates);
        var which = accurate.Count > 0 ? "the smallest candidate within MaxAccuracyDrop" : "the smallest candidate";
        return new(null, closest, Diagnostic.Error(DiagnosticCode.SizeBudgetNotMet, modelFile,
            $"No candidate fits MaxSize: {which}, {closest.Label}, is {Quantity.FormatSize(closest.SizeBytes)} ({closest.SizeBytes} bytes) " +
            $"where MaxSize allows {Quantity.FormatSize(budgets.MaxSizeBytes!.Value)} ({budgets.MaxSizeBytes} bytes). Raise MaxSize, or MaxAccuracyDrop so that more aggressive techniques qualify."));
    }

    // Ties go to the earlier (simpler) candidate.
    private static Candidate Smallest(IEnumerable<Candidate> candidates) => candidates.MinBy(c => c.SizeBytes)!;
}
