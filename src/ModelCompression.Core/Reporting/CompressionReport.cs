namespace ModelCompression.Core.Reporting;

/// <summary>One measured candidate, as the report shows it.</summary>
/// <param name="Label">The technique, e.g. "int4+int8".</param>
/// <param name="Plan">The plan's text form (<see cref="Planning.Plan.ToString"/>).</param>
/// <param name="Score">The score on the samples the search ranked candidates on: the search split
/// (<see cref="CompressionReport.SearchSamples"/>), or the validation set when there is no split.</param>
/// <param name="Drop">How far <see cref="Score"/> fell below the original's on the same samples (negative when it rose).</param>
/// <param name="MeetsAccuracy">Within MaxAccuracyDrop on the samples it was judged on (the validation set when <see cref="ValidationScore"/> is set).</param>
public sealed record CandidateSummary(
    string Label, string Plan, long SizeBytes, double Score, double Drop, bool MeetsAccuracy, bool MeetsSize, bool Chosen)
{
    /// <summary>The score on the full validation set, for the candidates judged on it (at least the chosen one); null for the others.</summary>
    public double? ValidationScore { get; init; }

    /// <summary>How far <see cref="ValidationScore"/> fell below the original's validation score.</summary>
    public double? ValidationDrop { get; init; }

    /// <summary>Median latency of one batch-1 run, in milliseconds; null when not measured.</summary>
    public double? LatencyMilliseconds { get; init; }

    /// <summary>Median latency / the original's, measured in the same process (below 1: faster).</summary>
    public double? LatencyRatio { get; init; }

    /// <summary>Within MaxLatency (or, without it, not slower than the original); null when latency was not judged.</summary>
    public bool? MeetsLatency { get; init; }

    /// <summary>Logical parameters (weight and bias elements, however stored: <see cref="Statistics.ModelStatistics"/>); null when not counted.</summary>
    public long? ParameterCount { get; init; }

    /// <summary>FLOPs of one batch-1 run (multiply-adds × 2, <see cref="Statistics.ModelStatistics"/>); null when not counted.</summary>
    public long? Flops { get; init; }

    /// <summary>
    /// Some weights are stored as palette codes or masked sparse values (the plan's palettize or prune-weights steps),
    /// which ONNX Runtime expands to float when it loads the model: the file is small, a loaded session's memory is not.
    /// </summary>
    public bool ExpandedAtLoad { get; init; }

    /// <summary>Within every budget that was judged.</summary>
    public bool WithinBudgets => MeetsAccuracy && MeetsSize && MeetsLatency != false;
}

/// <summary>The budgets a model was compressed against (null: none set).</summary>
public sealed record BudgetSummary(double MaxAccuracyDrop, long? MaxSizeBytes, double? MaxLatencyMilliseconds);

/// <summary>Where the compressed model's plan came from.</summary>
public enum PlanSource
{
    /// <summary>A search over candidates (no lock, or a stale one).</summary>
    Search,
    /// <summary>A current plan lock, applied without a search and measured again.</summary>
    Lock,
}

/// <summary>
/// How sensitive one node is: its score drop when only it is compressed, at the most aggressive
/// setting tried, and the precision it ended with.
/// </summary>
/// <param name="Node">The node's name.</param>
/// <param name="OpType">Its operator, e.g. "Conv".</param>
/// <param name="Tried">The most aggressive setting it was measured at alone, e.g. "int4".</param>
/// <param name="DropAlone">How far the score fell with only this node at <paramref name="Tried"/>.</param>
/// <param name="Final">The precision it ended with in the chosen plan: "int4", "int8", "fp16", "fp32"...</param>
public sealed record NodeSensitivity(string Node, string OpType, string Tried, double DropAlone, string Final)
{
    /// <summary>Why it fell back, when the default ("int4 → int8: drop 0.62 pt alone") does not say it (e.g. an operator int4 cannot take).</summary>
    public string? Reason { get; init; }

    /// <summary><see cref="DropAlone"/> is predicted from the layer's statistics, not measured.</summary>
    public bool Predicted { get; init; }
}

/// <summary>
/// What one compression did and measured: the report written as JSON and Markdown (with an SVG
/// chart) under obj/, also when the budgets were not met (then <see cref="Failure"/> says why and
/// the best candidate is named).
/// </summary>
public sealed record CompressionReport
{
    public required string Model { get; init; }
    public required string ToolVersion { get; init; }
    public required string Metric { get; init; }
    public required string ValidationData { get; init; }
    public required int ValidationSamples { get; init; }
    public required BudgetSummary Budgets { get; init; }
    public required long OriginalSizeBytes { get; init; }

    /// <summary>The original model's score on the validation set.</summary>
    public required double OriginalScore { get; init; }

    /// <summary>Every candidate measured, in the order tried.</summary>
    public required IReadOnlyList<CandidateSummary> Candidates { get; init; }

    /// <summary>The chosen candidate; null when no candidate met the budgets.</summary>
    public CandidateSummary? Chosen { get; init; }

    /// <summary>The closest candidate when none met the budgets (written beside the report for inspection).</summary>
    public CandidateSummary? BestFailing { get; init; }

    /// <summary>The error that failed the build, if any.</summary>
    public string? Failure { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The file the search split comes from (calibration or validation data); null when the search ranked on the validation set.</summary>
    public string? SearchData { get; init; }

    /// <summary>How many samples the search ranked candidates on; null when it used the whole validation set.</summary>
    public int? SearchSamples { get; init; }

    /// <summary>The original's score on the search split.</summary>
    public double? OriginalSearchScore { get; init; }

    /// <summary>The original's median batch-1 latency, in milliseconds.</summary>
    public double? OriginalLatencyMilliseconds { get; init; }

    /// <summary>The original's logical parameters, when counted.</summary>
    public long? OriginalParameterCount { get; init; }

    /// <summary>The original's FLOPs for one batch-1 run, when counted.</summary>
    public long? OriginalFlops { get; init; }

    /// <summary>How long the search (or the re-measurement of a locked plan) took, in seconds.</summary>
    public double? SearchSeconds { get; init; }

    /// <summary>Options (a setting of a layer) whose drop the search predicted from layer statistics instead of measuring; null without a search.</summary>
    public int? OptionsPredicted { get; init; }

    /// <summary>Options measured alone (one per layer to calibrate its predictions, and channel shares); null without a search.</summary>
    public int? OptionsMeasured { get; init; }

    /// <summary>The safety-net search time stopped the search (MC4101): the plan depends on the machine's speed.</summary>
    public bool SearchTimedOut { get; init; }

    public PlanSource PlanSource { get; init; } = PlanSource.Search;

    /// <summary>The plan lock read or written, if any.</summary>
    public string? LockFile { get; init; }

    /// <summary>Why a lock that existed was not used (it was stale), in plain words; empty otherwise.</summary>
    public IReadOnlyList<string> StaleLockReasons { get; init; } = [];

    /// <summary>Per node: its sensitivity and the precision it ended with.</summary>
    public IReadOnlyList<NodeSensitivity> Sensitivity { get; init; } = [];

    /// <summary>What distillation tried and the best plan with and without it; null when the build did not distil.</summary>
    public DistillationSummary? Distillation { get; init; }
}

/// <summary>The best plan with and without distillation side by side, and each sketch distilled.</summary>
/// <param name="WithoutDistillation">The post-training search's choice (judged on the validation data); null when none met the budgets.</param>
/// <param name="WithDistillation">The choice among every candidate, distilled ones included.</param>
public sealed record DistillationSummary(CandidateSummary? WithoutDistillation, CandidateSummary? WithDistillation, IReadOnlyList<DistilledSketch> Sketches);

/// <summary>One sketch before and after training, on the search split and on the validation data.</summary>
public sealed record DistilledSketch(string Label, long SizeBytes, double UntrainedScore, double DistilledScore, double UntrainedValidationScore, double DistilledValidationScore, int Epochs);
