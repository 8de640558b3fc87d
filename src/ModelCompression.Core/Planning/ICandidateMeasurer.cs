namespace ModelCompression.Core.Planning;

/// <summary>
/// What the planner measures: candidates on the search split (score, size, latency) and single options' sensitivity.
/// <see cref="CandidateEvaluator"/> runs the models; tests give the planner a fake.
/// </summary>
public interface ICandidateMeasurer
{
    /// <summary>Applies <paramref name="plan"/> and measures it on the search split (cached by model).</summary>
    Candidate Measure(string label, Plan plan);

    /// <summary>The sensitivity of <paramref name="plan"/>'s model: the score drop, or for accuracy the share of predictions changed.</summary>
    double SensitivityOf(Plan plan, string label);

    /// <summary>One option alone: its sensitivity (as <see cref="SensitivityOf"/>) and the model's size, without timing it.</summary>
    (double Sensitivity, long SizeBytes) Probe(Plan plan, string label);

    /// <summary>The candidate, timed again when its latency breaks the budget by a small margin.</summary>
    Candidate ConfirmLatency(Candidate candidate, Budgets budgets);

    /// <summary>The smallest sensitivity the search split can show (one sample in it).</summary>
    double Resolution { get; }

    /// <summary>What <see cref="SensitivityOf"/> measures when it is not the metric's drop (for the log and the report).</summary>
    string? SensitivityMeasure { get; }

    /// <summary>How many distinct models were run.</summary>
    int Evaluations { get; }
}
