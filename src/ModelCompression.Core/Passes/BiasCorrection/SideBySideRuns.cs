using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>What <see cref="SideBySideRuns"/> runs on each batch: a model, or outputs a model gave on the same batch before.</summary>
internal interface IBatchRunner
{
    /// <param name="start">The batch's first sample.</param>
    /// <param name="count">Its samples, which <paramref name="feed"/> holds.</param>
    IReadOnlyDictionary<string, NdArray> Run(int start, int count, IReadOnlyDictionary<string, NdArray> feed);
}

/// <summary>One model run for its outputs: the session, what to fetch from it, and how errors name it.</summary>
internal sealed class ModelProbe : IDisposable, IBatchRunner
{
    private ModelProbe(ModelRunner runner, IReadOnlyList<string> fetch, string name)
    {
        Runner = runner;
        Fetch = fetch;
        Name = name;
    }

    public ModelRunner Runner { get; }

    public IReadOnlyList<string> Fetch { get; }

    public string Name { get; }

    /// <summary>
    /// A session over <paramref name="model"/> that also outputs the float node outputs <paramref name="values"/> of its
    /// main graph (<see cref="Calibration.Calibrator.WithOutputs"/>), fetching those and <paramref name="outputs"/>. ONNX
    /// Runtime runs every node of a model whatever is fetched: to measure a layer alone, open its <see cref="Upstream"/>.
    /// </summary>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load the model.</exception>
    public static ModelProbe Open(ModelProto model, string name, IReadOnlyList<string> values, IReadOnlyList<string> outputs, EvaluationOptions options)
    {
        var probe = values.Count == 0 ? model : Calibration.Calibrator.WithOutputs(model, values, out _);
        return new ModelProbe(new ModelRunner(probe, name, options.Optimization, options.IntraOpThreads), values.Concat(outputs).Distinct().ToList(), name);
    }

    public IReadOnlyDictionary<string, NdArray> Run(int start, int count, IReadOnlyDictionary<string, NdArray> feed) => Runner.Run(feed, Fetch);

    public void Dispose() => Runner.Dispose();

    /// <summary>
    /// A copy of the model whose main graph keeps only the nodes <paramref name="values"/> depend on (subgraph reads
    /// included), the initializers and value infos they read, and no outputs. Inputs all stay: the feed names every input.
    /// Two models whose parts before <paramref name="values"/> are the same give the same bytes.
    /// </summary>
    public static ModelProto Upstream(ModelProto model, IReadOnlyList<string> values)
    {
        var copy = model.Clone();
        var graph = new ModelView(copy).Main;
        var needed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var read = new HashSet<string>(values, StringComparer.Ordinal);
        var pending = new Stack<string>(values);
        while (pending.TryPop(out var value))
        {
            if (graph.Producer(value) is not { } producer || !needed.Add(producer)) continue;
            foreach (var input in producer.Input.Concat(graph.OuterReferences(producer)))
                if (input.Length > 0 && read.Add(input)) pending.Push(input);
        }
        var kept = copy.Graph.Node.Where(needed.Contains).ToList();
        copy.Graph.Node.Clear();
        copy.Graph.Node.AddRange(kept);
        copy.Graph.Output.Clear();
        var inputs = copy.Graph.Input.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        var initializers = copy.Graph.Initializer.Where(t => read.Contains(t.Name) || inputs.Contains(t.Name)).ToList();
        copy.Graph.Initializer.Clear();
        copy.Graph.Initializer.AddRange(initializers);
        var infos = copy.Graph.ValueInfo.Where(v => read.Contains(v.Name)).ToList();
        copy.Graph.ValueInfo.Clear();
        copy.Graph.ValueInfo.AddRange(infos);
        return copy;
    }
}

/// <summary>
/// Runs several models on the same samples, batch by batch, and hands each batch's fetched values (one dictionary per
/// model, in order) to a callback before the next batch runs: memory stays bounded by one batch whatever the number
/// of samples. Batches are sized as <see cref="Evaluator"/> sizes them (the first run, of one sample, sizes the batch:
/// <see cref="EvaluationOptions.BatchSizeFor"/>); a model that does not take a batch runs one sample at a time.
/// </summary>
internal static class SideBySideRuns
{
    public static void ForEach(SampleSet samples, IReadOnlyList<IBatchRunner> probes, EvaluationOptions options,
        Action<IReadOnlyList<IReadOnlyDictionary<string, NdArray>>> onBatch)
    {
        var start = 0;
        int? batchSize = null;
        var batching = samples.CanBatch && options.BatchSize > 1;
        while (batching && start < samples.Count)
        {
            var count = Math.Min(batchSize ?? 1, samples.Count - start);
            IReadOnlyDictionary<string, NdArray> feed;
            IReadOnlyList<IReadOnlyDictionary<string, NdArray>> outputs;
            try
            {
                feed = samples.Batch(start, count);
                outputs = Run(probes, start, count, feed);
            }
            catch (OnnxRuntimeException) when (count > 1)
            {
                batching = false; // e.g. a Reshape that fixes axis 0: one sample at a time from here
                break;
            }
            catch (OnnxRuntimeException e)
            {
                throw Failed(samples, start, e);
            }
            batchSize ??= options.BatchSizeFor(feed.Values.Sum(i => i.Data.LongLength), outputs.Sum(o => o.Values.Sum(v => v.Data.LongLength)));
            onBatch(outputs);
            start += count;
        }
        for (; start < samples.Count; start++)
        {
            try
            {
                onBatch(Run(probes, start, 1, samples.Sample(start)));
            }
            catch (OnnxRuntimeException e)
            {
                throw Failed(samples, start, e);
            }
        }
    }

    private static List<IReadOnlyDictionary<string, NdArray>> Run(IReadOnlyList<IBatchRunner> probes, int start, int count, IReadOnlyDictionary<string, NdArray> feed) =>
        probes.Select(p => p.Run(start, count, feed)).ToList();

    private static CompressionException Failed(SampleSet samples, int index, OnnxRuntimeException e) =>
        new(DiagnosticCode.ModelUnsupported, samples.File,
            $"ONNX Runtime failed to run a model for bias correction on sample {samples.SourceIndex(index)} of '{samples.File}': {OnnxRuntimeFailure.Summary(e.Message)}.", e);
}
