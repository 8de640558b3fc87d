namespace ModelCompression.Core.Reporting;

/// <summary>One measured candidate, as the report shows it.</summary>
public sealed record CandidateSummary(
    string Label, string Plan, long SizeBytes, double Score, double Drop, bool MeetsAccuracy, bool MeetsSize, bool Chosen);

/// <summary>The budgets a model was compressed against (null: none set).</summary>
public sealed record BudgetSummary(double MaxAccuracyDrop, long? MaxSizeBytes, double? MaxLatencyMilliseconds);

/// <summary>
/// What one compression did and measured: the report written as JSON and Markdown under obj/,
/// also when the budgets were not met (then <see cref="Failure"/> says why and the best candidate is named).
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
    public required double OriginalScore { get; init; }
    public required IReadOnlyList<CandidateSummary> Candidates { get; init; }

    /// <summary>The chosen candidate; null when no candidate met the budgets.</summary>
    public CandidateSummary? Chosen { get; init; }

    /// <summary>The closest candidate when none met the budgets (written beside the report for inspection).</summary>
    public CandidateSummary? BestFailing { get; init; }

    /// <summary>The error that failed the build, if any.</summary>
    public string? Failure { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];
}
