using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Planning;

/// <summary>A score measured on some samples, with the original model's score on the same samples.</summary>
public sealed record Measurement(double Score, double OriginalScore, int Samples)
{
    /// <summary>How far the score fell below the original's (negative when it rose).</summary>
    public double Drop => OriginalScore - Score;
}

/// <summary>
/// A plan applied to the source model and measured: its size, its score on the search split, its
/// latency against the original and, once judged, its score on the full validation data.
/// </summary>
/// <param name="Label">A short name for logs and reports, e.g. "int4 ×1 + int8 ×5".</param>
/// <param name="Hash">SHA-256 of the model's bytes: equal hashes are the same model.</param>
public sealed record Candidate(string Label, Plan Plan, ModelProto Model, string Hash, long SizeBytes, Measurement Search, LatencyComparison Latency)
{
    /// <summary>The per-layer settings the planner built <see cref="Plan"/> from; null for a plan read from a lock.</summary>
    public CompressionSketch? Sketch { get; init; }

    /// <summary>The score on the full validation data; null until the candidate is judged.</summary>
    public Measurement? Validation { get; init; }

    /// <summary>The most authoritative score known: validation when judged, else the search split.</summary>
    public Measurement Best => Validation ?? Search;
}
