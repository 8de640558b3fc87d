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
/// <param name="Rebuild">Applies <see cref="Plan"/> again: the model is kept only while memory allows.</param>
public sealed record Candidate(string Label, Plan Plan, Func<ModelProto> Rebuild, string Hash, long SizeBytes, Measurement Search, LatencyComparison Latency)
{
    private WeakReference<ModelProto>? _model;

    /// <summary>
    /// The compressed model, built again from <see cref="Plan"/> when the garbage collector took it: a search keeps dozens
    /// of candidates, and of a 100 MB model they would not all fit (the passes are deterministic, so it is the same model).
    /// </summary>
    public ModelProto Model
    {
        get
        {
            if (_model is not null && _model.TryGetTarget(out var model)) return model;
            model = Rebuild();
            _model = new WeakReference<ModelProto>(model);
            return model;
        }
        init => _model = new WeakReference<ModelProto>(value);
    }

    /// <summary>The per-layer settings the planner built <see cref="Plan"/> from; null for a plan read from a lock.</summary>
    public CompressionSketch? Sketch { get; init; }

    /// <summary>The score on the full validation data; null until the candidate is judged.</summary>
    public Measurement? Validation { get; init; }

    /// <summary>The most authoritative score known: validation when judged, else the search split.</summary>
    public Measurement Best => Validation ?? Search;
}
