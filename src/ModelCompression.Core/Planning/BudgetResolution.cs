using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Whether the validation data can show that MaxAccuracyDrop is broken at all: one outcome (a sample, or with
/// agreement a position) moves the score by 1/n, so a budget finer than that can never be judged and any candidate
/// would pass or fail by chance (one sample scoring 1.0 for both models says nothing about a 1% budget).
/// </summary>
public static class BudgetResolution
{
    /// <summary>The fewest outcomes that resolve <paramref name="maxAccuracyDrop"/>: ⌈1 / drop⌉ (100 for 1%).</summary>
    public static long OutcomesNeeded(double maxAccuracyDrop) =>
        maxAccuracyDrop <= 0 ? 1 : (long)Math.Ceiling(1 / maxAccuracyDrop - 1e-9);

    /// <exception cref="CompressionException">MC2008 the validation data holds too few outcomes for the budget.</exception>
    public static void Check(Reference validation, Budgets budgets, string metricName)
    {
        var needed = OutcomesNeeded(budgets.MaxAccuracyDrop);
        if (validation.ScoredOutcomes >= needed) return;
        var samples = validation.Samples.Count;
        var outcomes = validation.Metric == MetricKind.Agreement
            ? $"{samples} sample{(samples == 1 ? "" : "s")} with {validation.ScoredOutcomes} positions in all (agreement counts every position)"
            : $"{samples} sample{(samples == 1 ? "" : "s")}";
        var step = ReportWriter.DropPoints(1.0 / validation.ScoredOutcomes);
        throw new CompressionException(DiagnosticCode.DataTooSmallForBudget, validation.Samples.File,
            $"Data file '{validation.Samples.File}' holds {outcomes}, so one of them changes {metricName} by {step}, more than MaxAccuracyDrop " +
            $"({ReportWriter.DropPoints(budgets.MaxAccuracyDrop)}): a drop within the budget cannot be told from one beyond it. " +
            $"Add samples to ValidationData (at least {needed} {(validation.Metric == MetricKind.Agreement ? "positions" : "samples")} for this budget), or allow a drop of at least {step}.");
    }
}
