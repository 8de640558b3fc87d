using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Evaluation;

/// <summary>
/// Runs one model over a <see cref="SampleSet"/> and hands each sample's outputs to a callback as
/// they come, so no run's outputs are held longer than their batch. Batches samples when the data
/// and every output allow it (a free batch axis), else runs them one at a time; both give the same
/// per-sample values.
/// </summary>
public sealed class Evaluator : IDisposable
{
    private readonly ModelRunner _runner;
    private readonly string _modelName;
    private readonly EvaluationOptions _options;
    private readonly bool _outputsHaveBatchAxis;

    /// <param name="modelName">How errors name the model (its file, or a candidate's description).</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load the model, or it has no numeric tensor output.</exception>
    public Evaluator(ModelProto model, string modelName, EvaluationOptions? options = null)
    {
        _modelName = modelName;
        _options = options ?? EvaluationOptions.Default;
        _runner = new ModelRunner(model, modelName, _options.Optimization, _options.IntraOpThreads);
        // Only numeric tensors can be scored; e.g. a classifier's string label or map output is skipped.
        OutputNames = _runner.OutputNames
            .Where(n => _runner.OutputMetadata[n] is { IsTensor: true, IsString: false })
            .ToList();
        if (OutputNames.Count == 0)
        {
            _runner.Dispose();
            throw new CompressionException(DiagnosticCode.ModelUnsupported, modelName,
                $"'{modelName}' has no numeric tensor output to measure (its outputs: {string.Join(", ", _runner.OutputNames)}).");
        }
        _outputsHaveBatchAxis = OutputNames.All(n => _runner.OutputMetadata[n].Dimensions is [< 0, ..]);
    }

    /// <summary>The outputs measured, in the model's order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>How many ONNX Runtime runs the last <see cref="Run"/> made: fewer than its samples when it batched.</summary>
    public int RunCount { get; private set; }

    /// <summary>
    /// Runs every sample of <paramref name="samples"/> in order and calls <paramref name="onSample"/>
    /// with the sample's index in <paramref name="samples"/> and its outputs (in <see cref="OutputNames"/> order).
    /// The values are valid only during the call.
    /// </summary>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime fails on a sample.</exception>
    public void Run(SampleSet samples, Action<int, IReadOnlyList<OutputValues>> onSample)
    {
        RunCount = 0;
        var batching = samples.CanBatch && _outputsHaveBatchAxis && _options.BatchSize > 1;
        var batchSize = 1; // the first run, of one sample, sizes the others (EvaluationOptions.BatchSizeFor)
        var start = 0;
        while (batching && start < samples.Count)
        {
            var count = Math.Min(batchSize, samples.Count - start);
            var feed = samples.Batch(start, count);
            var outputs = Execute(feed, samples, start, count);
            // An output whose axis 0 is not the batch after all (e.g. a transposed sequence): run singly from here.
            if (outputs.Any(o => o.Rank == 0 || o.Shape[0] != count))
            {
                batching = false;
                break;
            }
            if (start == 0)
                batchSize = _options.BatchSizeFor(feed.Values.Sum(i => i.Data.LongLength), outputs.Sum(o => o.Data.LongLength));
            var values = outputs.Select(o => o.ToFloats()).ToArray();
            var lastAxes = outputs.Select(LastAxis).ToArray();
            var sample = new OutputValues[outputs.Length];
            for (var k = 0; k < count; k++)
            {
                for (var o = 0; o < outputs.Length; o++)
                {
                    var length = values[o].Length / count;
                    sample[o] = new OutputValues(values[o].AsMemory(k * length, length), lastAxes[o]);
                }
                onSample(start + k, sample);
            }
            start += count;
        }
        for (; start < samples.Count; start++)
        {
            var outputs = Execute(samples.Sample(start), samples, start, 1);
            onSample(start, outputs.Select(o => new OutputValues(o.ToFloats(), LastAxis(o))).ToArray());
        }
    }

    public void Dispose() => _runner.Dispose();

    private NdArray[] Execute(IReadOnlyDictionary<string, NdArray> feed, SampleSet samples, int start, int count)
    {
        try
        {
            RunCount++;
            var results = _runner.Run(feed, OutputNames);
            return OutputNames.Select(n => results[n]).ToArray();
        }
        catch (OnnxRuntimeException e)
        {
            var which = count == 1 ? $"sample {samples.SourceIndex(start)}" : $"samples {samples.SourceIndex(start)}..{samples.SourceIndex(start + count - 1)}";
            throw OnnxRuntimeFailure.CannotRun(_modelName, $"on {which} of '{samples.File}'", e);
        }
    }

    private static int LastAxis(NdArray output) => output.Rank == 0 ? 1 : (int)output.Shape[^1];
}
