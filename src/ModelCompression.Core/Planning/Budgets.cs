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
}
