using Microsoft.ML.OnnxRuntime;

namespace ModelCompression.Core.Evaluation;

/// <summary>How models are run to measure them.</summary>
public sealed record EvaluationOptions
{
    public static EvaluationOptions Default { get; } = new();

    /// <summary>
    /// Samples per run when the model and data allow batching (see <see cref="Data.SampleSet.CanBatch"/>); 1 runs one
    /// sample at a time. Small: nearly every measurement runs a new session, which grows its memory arena to its largest
    /// batch, and that costs more than batching saves past a few samples (README, Benchmark).
    /// </summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>
    /// Caps a batch so that its outputs take at most this many bytes (ppocr-rec's [40, 6625] per
    /// sample makes batches of 15, not 64): batches save time, not memory.
    /// </summary>
    public long MaxBatchOutputBytes { get; init; } = 16 << 20;

    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>ONNX Runtime's intra-op threads; 0 lets it choose.</summary>
    public int IntraOpThreads { get; init; }
}
