using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// Collects each layer's input moments H = E[x xᵀ] (<see cref="InputMoments"/>) in one streamed pass: the layers'
/// data inputs become extra outputs of a copy of the model (as <see cref="Calibrator"/> does), ONNX Runtime runs it
/// one calibration sample at a time, and each sample's rows are folded into the running sums and dropped.
/// <para>
/// Bounded cost: at most <see cref="DefaultSamples"/> samples spread over the file; per sample and layer at most
/// <see cref="MaxRowsPerLayer"/> / samples rows (and at most <see cref="MaxRowsPerSample"/>), chosen evenly strided
/// over the sample's rows (Conv output positions, MatMul's leading positions), so at most about
/// <see cref="MaxRowsPerLayer"/> rows per layer and Rows·Groups·Dimension²/2 multiply-adds.
/// Bounded memory: per layer Groups·Dimension² floats (the result: Σ Groups·Dimension²·4 bytes, which the progress
/// line states before the run) plus, while collecting, a block of rows of at most 1 MB per layer (also stated), a
/// scratch per thread, and for a moment a depthwise layer's matrix twice while it is reordered
/// (<see cref="MomentAccumulator"/>). A layer whose row is longer than <see cref="MaxDimension"/> (or whose groups'
/// matrices would not fit one array) gets no statistics (null), so one group's matrix is at most 4608²·4 bytes = 81 MB.
/// </para>
/// Deterministic: the same activations give the same bytes on any machine and thread count (samples run one at a
/// time in file order, rows are chosen by index, sums add in a fixed order). The activations are ONNX Runtime's: its
/// kernels may round differently on another CPU.
/// </summary>
public static class LayerStatisticsCollector
{
    public const int DefaultSamples = 256;

    /// <summary>The longest input row (K, or C/group·kernel) a layer may have for statistics: 4608 = 512·3·3.</summary>
    public const int MaxDimension = 4608;

    /// <summary>Rows per layer over all samples: the moments of a few thousand rows are stable enough for rounding decisions.</summary>
    public const int MaxRowsPerLayer = 8192;

    /// <summary>Rows one sample contributes to a layer at most (e.g. Conv output positions), so that no single sample dominates.</summary>
    public const int MaxRowsPerSample = 256;

    /// <summary>The samples a collection of at most <paramref name="maxSamples"/> uses: spread evenly over <paramref name="calibration"/>.</summary>
    public static SampleSet ChooseSamples(SampleSet calibration, int maxSamples = DefaultSamples) =>
        calibration.Spread(Math.Min(Math.Max(1, maxSamples), calibration.Count));

    /// <summary>The rows each sample contributes to a layer, at most, for <paramref name="samples"/> samples.</summary>
    public static int RowsPerSample(int samples) => Math.Clamp(MaxRowsPerLayer / Math.Max(1, samples), 1, MaxRowsPerSample);

    /// <summary>
    /// Runs <paramref name="model"/> over up to <paramref name="maxSamples"/> samples of <paramref name="calibration"/> and
    /// returns the input moments of <paramref name="nodes"/> (Conv, Gemm and MatMul nodes of the main graph with a constant
    /// weight; other names, and layers over <see cref="MaxDimension"/>, are skipped and get none).
    /// </summary>
    /// <param name="model">The model as the passes will see it (the lossless-processed model).</param>
    /// <param name="modelName">How errors name the model.</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load the model or run it on a sample.</exception>
    public static LayerInputStatistics Collect(ModelProto model, string modelName, SampleSet calibration, IReadOnlyCollection<string> nodes,
        int maxSamples = DefaultSamples, Action<string>? progress = null, EvaluationOptions? options = null)
    {
        options ??= EvaluationOptions.Default;
        var clock = Stopwatch.StartNew();
        var found = LayerInput.Find(model, nodes);
        var layers = found.Where(l => l.Dimension <= MaxDimension && (long)l.Groups * l.Dimension * l.Dimension <= Array.MaxLength).ToList();
        var samples = ChooseSamples(calibration, maxSamples);
        var tooLong = found.Count - layers.Count;
        var accumulators = layers.ToDictionary(l => l, l => new MomentAccumulator(l.Dimension, l.Groups));
        var moments = MomentBytes(layers);
        var skipped = tooLong > 0 ? $"; {tooLong} layer{(tooLong == 1 ? "" : "s")} with rows over {MaxDimension} (or too many groups) skipped" : "";
        progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"collecting layer statistics: {layers.Count} layers, {samples.Count} samples; at most {Megabytes(moments):F1} MB held " +
            $"(+ {Megabytes(accumulators.Values.Sum(a => a.Bytes) - moments):F1} MB of row blocks while collecting){skipped}"));
        if (layers.Count == 0) return new LayerInputStatistics(new Dictionary<string, InputMoments>(), samples.Count, fromCache: false);

        var unfit = new HashSet<LayerInput>();
        var tensors = layers.Select(l => l.Tensor).Distinct(StringComparer.Ordinal).ToList();
        var probe = Calibrator.WithOutputs(model, tensors, out var graphInputs);
        var fetched = tensors.Where(t => !graphInputs.Contains(t)).ToList();
        var rowsPerSample = RowsPerSample(samples.Count);
        using (var runner = new ModelRunner(probe, modelName, options.Optimization, options.IntraOpThreads))
        {
            for (var i = 0; i < samples.Count; i++)
            {
                var feed = samples.Sample(i);
                var outputs = Run(runner, modelName, samples, i, feed, fetched);
                foreach (var layer in layers)
                {
                    if (unfit.Contains(layer)) continue;
                    // A value that is not there (an input the samples do not feed) or does not fit the weight (a shape shape
                    // inference did not see) leaves the layer without statistics.
                    if ((outputs.TryGetValue(layer.Tensor, out var value) || feed.TryGetValue(layer.Tensor, out value)) && layer.Rows(value) is { } rows)
                        AddRows(accumulators[layer], rows, rowsPerSample);
                    else unfit.Add(layer);
                }
            }
        }

        var collected = new Dictionary<string, InputMoments>(StringComparer.Ordinal);
        foreach (var layer in layers.Where(l => !unfit.Contains(l)))
            if (accumulators[layer].Finish() is { } m) collected[layer.Node] = m;
        var result = new LayerInputStatistics(collected, samples.Count, fromCache: false);
        progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"layer statistics collected: {result.Count} layers, {Megabytes(result.Bytes):F1} MB held, {clock.Elapsed.TotalSeconds:F1} s"));
        return result;
    }

    /// <summary>Σ Groups·Dimension²·4 bytes: the memory the moments of <paramref name="layers"/> hold.</summary>
    internal static long MomentBytes(IEnumerable<LayerInput> layers) => layers.Sum(l => 4L * l.Groups * l.Dimension * l.Dimension);

    /// <summary>
    /// The rows of a sample that a layer takes: all when there are at most <paramref name="count"/>, else
    /// <paramref name="count"/> evenly strided from the first (index j·total/count).
    /// </summary>
    internal static IEnumerable<long> ChosenRows(long total, int count)
    {
        if (total <= count)
        {
            for (long r = 0; r < total; r++) yield return r;
            yield break;
        }
        for (long j = 0; j < count; j++) yield return j * total / count;
    }

    /// <summary>Adds the chosen rows of one value; a row with a NaN or infinity is left out (one would make all of H NaN).</summary>
    private static void AddRows(MomentAccumulator accumulator, RowSource rows, int rowsPerSample)
    {
        foreach (var index in ChosenRows(rows.Count, rowsPerSample))
        {
            var row = accumulator.NextRow();
            rows.Write(index, row, accumulator.GroupStride, accumulator.ElementStride);
            if (AllFinite(row)) accumulator.Commit();
        }
    }

    // The largest magnitude is NaN or infinite exactly when some element is.
    private static bool AllFinite(ReadOnlySpan<float> row) => float.IsFinite(TensorPrimitives.MaxMagnitude(row));

    private static IReadOnlyDictionary<string, NdArray> Run(ModelRunner runner, string modelName, SampleSet samples, int index,
        IReadOnlyDictionary<string, NdArray> feed, IReadOnlyList<string> fetched)
    {
        if (fetched.Count == 0) return new Dictionary<string, NdArray>();
        try
        {
            return runner.Run(feed, fetched);
        }
        catch (OnnxRuntimeException e)
        {
            throw OnnxRuntimeFailure.CannotRun(modelName, $"for layer statistics on sample {samples.SourceIndex(index)} of '{samples.File}'", e);
        }
    }

    internal static double Megabytes(long bytes) => bytes / (1024.0 * 1024.0);
}
