using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Calibration;

/// <summary>
/// Observes activation tensors of a float model over calibration samples. The tensors become extra
/// outputs of a copy of the model, which ONNX Runtime runs over the samples in batches (as
/// <see cref="Evaluator"/> does, with a batch's outputs capped in bytes) or one sample at a time; each
/// run's values are folded into running statistics and dropped, so memory stays bounded by one batch
/// whatever the number of samples. Same model, tensors, samples and options give the same statistics,
/// bit for bit: minima, maxima and integer counts do not depend on the order values arrive in.
/// </summary>
public static class Calibrator
{
    /// <param name="model">The float model exactly as the quantization pass will see it (e.g. after the lossless passes).</param>
    /// <param name="modelName">How errors name the model.</param>
    /// <param name="tensors">Float values of the main graph: graph inputs or node outputs.</param>
    /// <param name="histograms">Also collect histograms (a second pass over the samples), which Percentile and Entropy need.</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load or run the model on a sample.</exception>
    /// <exception cref="ArgumentException">A tensor is not a float activation of the main graph.</exception>
    public static CalibrationResult Collect(ModelProto model, string modelName, IEnumerable<string> tensors, SampleSet samples,
        bool histograms, EvaluationOptions? options = null, int binsPerSide = ActivationStatistics.DefaultBinsPerSide)
    {
        options ??= EvaluationOptions.Default;
        var statistics = tensors.Distinct(StringComparer.Ordinal).Select(t => new ActivationStatistics(t)).ToList();
        if (statistics.Count == 0) return new CalibrationResult(statistics, samples.Count);
        var probe = WithOutputs(model, statistics.Select(s => s.Tensor).ToList(), out var inputsObserved);
        using var runner = Open(probe, modelName, options);
        var fetched = statistics.Where(s => !inputsObserved.Contains(s.Tensor)).Select(s => s.Tensor).ToList();
        var reader = new SampleReader(runner, modelName, samples, fetched, options);

        reader.ForEachRun(values =>
        {
            foreach (var s in statistics) s.AddRange(values(s.Tensor));
        });
        if (histograms)
        {
            foreach (var s in statistics) s.StartHistogram(binsPerSide);
            reader.ForEachRun(values =>
            {
                foreach (var s in statistics) s.AddToHistogram(values(s.Tensor));
            });
        }
        return new CalibrationResult(statistics, samples.Count);
    }

    /// <summary>A copy of <paramref name="model"/> whose graph also outputs <paramref name="tensors"/> (graph inputs are read from the feed instead).</summary>
    internal static ModelProto WithOutputs(ModelProto model, IReadOnlyList<string> tensors, out HashSet<string> graphInputs)
    {
        var probe = model.Clone();
        var view = new ModelView(probe);
        var graph = view.Main;
        var types = ShapeInference.Run(view);
        graphInputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            var type = types.TypeOf(tensor).ElementType;
            if (type is not (DataType.Float or DataType.Undefined))
                throw new ArgumentException($"'{tensor}' holds {Tensors.ElementTypes.Name(type)}; only float activations are calibrated.", nameof(tensors));
            if (graph.IsGraphInput(tensor) && !graph.IsConstantInitializer(tensor))
            {
                graphInputs.Add(tensor);
                continue;
            }
            if (graph.Producer(tensor) is null)
                throw new ArgumentException($"'{tensor}' is not an input or a node output of the main graph of the model.", nameof(tensors));
            if (!graph.IsGraphOutput(tensor)) probe.Graph.Output.Add(OnnxFactory.TensorValueInfo(tensor, DataType.Float, null));
        }
        return probe;
    }

    private static ModelRunner Open(ModelProto probe, string modelName, EvaluationOptions options) =>
        new(probe, modelName, options.Optimization, options.IntraOpThreads);

    /// <summary>Runs the samples in the same batches every time and hands each run's values, by tensor, to a callback.</summary>
    private sealed class SampleReader(ModelRunner runner, string modelName, SampleSet samples, IReadOnlyList<string> fetched, EvaluationOptions options)
    {
        private int? _batchSize; // fixed by the first run: the same batches in both passes

        public void ForEachRun(Action<Func<string, ReadOnlySpan<float>>> onRun)
        {
            var start = 0;
            var batching = samples.CanBatch && options.BatchSize > 1 && _batchSize != 1;
            while (batching && start < samples.Count)
            {
                var count = Math.Min(_batchSize ?? 1, samples.Count - start);
                var feed = samples.Batch(start, count);
                IReadOnlyDictionary<string, NdArray> outputs;
                try
                {
                    outputs = runner.Run(feed, fetched);
                }
                catch (OnnxRuntimeException) when (count > 1)
                {
                    // The model does not take this batch after all (e.g. a reshape that fixes axis 0): one sample at a time from here.
                    _batchSize = 1;
                    break;
                }
                catch (OnnxRuntimeException e)
                {
                    throw Failed(start, e);
                }
                _batchSize ??= options.BatchSizeFor(feed.Values.Sum(i => i.Data.LongLength), outputs.Values.Sum(o => o.Data.LongLength));
                onRun(Values(feed, outputs));
                start += count;
            }
            for (; start < samples.Count; start++)
            {
                var feed = samples.Sample(start);
                try
                {
                    onRun(Values(feed, runner.Run(feed, fetched)));
                }
                catch (OnnxRuntimeException e)
                {
                    throw Failed(start, e);
                }
            }
        }

        private static Func<string, ReadOnlySpan<float>> Values(IReadOnlyDictionary<string, NdArray> feed, IReadOnlyDictionary<string, NdArray> outputs) =>
            tensor =>
            {
                var array = outputs.TryGetValue(tensor, out var output) ? output : feed[tensor];
                return array.ElementType == DataType.Float
                    ? array.AsSpan<float>()
                    : throw new ArgumentException($"'{tensor}' holds {Tensors.ElementTypes.Name(array.ElementType)}; only float activations are calibrated.");
            };

        private CompressionException Failed(int index, OnnxRuntimeException e) =>
            OnnxRuntimeFailure.CannotRun(modelName, $"for calibration on sample {samples.SourceIndex(index)} of '{samples.File}'", e);
    }
}
