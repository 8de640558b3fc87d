using ModelCompression.Core.Evaluation;

namespace ModelCompression.Core.Planning;

/// <summary>
/// What the compressed model must satisfy. <see cref="MaxAccuracyDrop"/> is absolute, in score
/// points (0.01 = one percentage point); null size/latency budgets mean none (latency: never slower
/// than the original).
/// </summary>
public sealed record Budgets(double MaxAccuracyDrop, long? MaxSizeBytes, TimeSpan? MaxLatency)
{
    public static Budgets Default { get; } = new(0.01, null, null);

    /// <summary>Whether a score this far below the original's is allowed (a tiny epsilon absorbs float rounding).</summary>
    public bool AllowsDrop(double drop) => drop <= MaxAccuracyDrop + 1e-12;

    public bool AllowsSize(long bytes) => MaxSizeBytes is not { } max || bytes <= max;

    /// <summary>
    /// How much slower than the original a model may measure and still count as "not slower" when no
    /// MaxLatency is set: batch-1 medians of the same model measured interleaved differ by about ±1%
    /// here, so 5% is noise margin, not a licence to be slower.
    /// </summary>
    public const double LatencyTolerance = 0.05;

    /// <summary>MaxLatency against the candidate's median; without it, the candidate must not be slower than the original.</summary>
    public bool AllowsLatency(LatencyComparison latency) =>
        MaxLatency is { } max ? latency.Candidate <= max : latency.Ratio <= 1 + LatencyTolerance;
}
