using Microsoft.ML.OnnxRuntime;

namespace ModelCompression.Core.Evaluation;

/// <summary>How models are run to measure them.</summary>
public sealed record EvaluationOptions
{
    public static EvaluationOptions Default { get; } = new();

    /// <summary>Samples per run when the model and data allow batching (see <see cref="Data.SampleSet.CanBatch"/>); 1 runs one sample at a time.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>
    /// Caps a batch so that its inputs take at most this many bytes (fashion-cnn's 28×28 images make batches of 10,
    /// ppocr-cls's 3×48×192 of 1): nearly every measurement runs a new session, which grows its memory arena to its
    /// largest batch, and on large inputs that costs more than batching saves (README, Benchmark).
    /// </summary>
    public long MaxBatchInputBytes { get; init; } = 32 << 10;

    /// <summary>
    /// Caps a batch so that its outputs take at most this many bytes (ppocr-rec's [40, 6625] per
    /// sample makes batches of 15, not 64): batches save time, not memory.
    /// </summary>
    public long MaxBatchOutputBytes { get; init; } = 16 << 20;

    public GraphOptimizationLevel Optimization { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>ONNX Runtime's intra-op threads; 0 lets it choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>The batch size for samples whose first run, of one sample, fed <paramref name="inputBytes"/> and fetched <paramref name="outputBytes"/>.</summary>
    public int BatchSizeFor(long inputBytes, long outputBytes) =>
        (int)Math.Clamp(Math.Min(MaxBatchOutputBytes / Math.Max(1, outputBytes), MaxBatchInputBytes / Math.Max(1, inputBytes)), 1, BatchSize);
}
