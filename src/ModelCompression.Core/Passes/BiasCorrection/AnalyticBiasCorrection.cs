using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>
/// Analytic bias correction: a layer is linear in its input, so the mean of its output is the layer applied to the mean
/// of its input, E[y] = W·E[x] + b. The layer statistics already hold E[x] for every layer (its im2col patch for a
/// convolution), so the mean error a lossy step gives a layer is E[y_reference] − E[y_compressed], with no pass over
/// the calibration data. Both means are computed by ONNX Runtime on a probe model of the layer alone (its weight's
/// constant subgraph included: dequantization, palettes, low-rank factors, MatMulNBits) fed E[x] as a single row or
/// patch, so every storage format is read as the real model reads it.
/// <para>Cost: two sessions of one layer each per corrected layer, against <see cref="EmpiricalBiasCorrection"/>'s
/// run of the model's prefix per layer over the samples (about 150 s for ppocr-rec's 49 layers). What it does not do:
/// correct the error a layer inherits from lossy layers before it (each layer is corrected for its own weights only,
/// as data-free bias correction does), add a bias where a layer has none (that must earn its bytes, which needs the
/// output's variance), or correct layers whose input channels were pruned.</para>
/// </summary>
public sealed class AnalyticBiasCorrection(ModelProto reference, ILayerStatistics statistics, IReadOnlySet<string>? nodeNames = null) : IGraphPass
{
    /// <summary>The plan parameter value that selects this pass for a "bias-correction" step.</summary>
    public const string Method = "analytic";

    public string Name => "bias-correction";

    /// <summary>What the last <see cref="Apply"/> left alone and why.</summary>
    public IReadOnlyList<SkippedNode> Skipped { get; private set; } = [];

    /// <summary>What the last <see cref="Apply"/> corrected (ErrorShare is not known here: 0).</summary>
    public IReadOnlyList<LayerCorrection> Corrections { get; private set; } = [];

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var graph = view.Main;
        var referenceGraph = new ModelView(reference).Main;
        var skipped = new List<SkippedNode>();
        var corrections = new List<LayerCorrection>();
        foreach (var node in graph.TopologicalOrder().Where(n => BiasSlot.IsLayer(n) && (nodeNames is null || nodeNames.Contains(n.Name))).ToList())
        {
            var (correction, problem) = Correct(view, referenceGraph, node);
            if (correction is not null) corrections.Add(correction);
            else skipped.Add(new SkippedNode(node.Name, problem!));
        }
        (Skipped, Corrections) = (skipped, corrections);
        return corrections.Count;
    }

    // Corrects one layer; or says why it cannot.
    private (LayerCorrection?, string?) Correct(ModelView view, GraphView referenceGraph, NodeProto node)
    {
        var graph = view.Main;
        if (BiasSlot.Find(graph, node, out var problem) is not { } slot) return (null, problem!);
        if (slot.CreatesBias) return (null, "it has no bias: a new one must earn its bytes, which needs its output's variance (the empirical correction measures it)");
        if (EmpiricalBiasCorrection.ReferenceName(graph, referenceGraph, slot.Observed) is not { } referenceOutput)
            return (null, $"the reference model has no value '{slot.Observed}' to compare its output with");
        if (ReferenceLayer(referenceGraph, node.Name) is not { } layer) return (null, "the reference model has no layer it stands for");
        if (statistics.For(layer.Name)?.Mean is not { } mean) return (null, "its input statistics were not collected");
        if (MeanInput(referenceGraph, layer, mean) is not { } input) return (null, "its input mean does not fit the layer's weight");

        var expected = Evaluate(referenceGraph, referenceOutput, layer.Input[0], input, $"reference layer {layer.Name}");
        var actual = Evaluate(graph, slot.Observed, layer.Input[0], input, $"compressed layer {node.Name}");
        if (expected is null || actual is null) return (null, "its output could not be computed from its input alone (it depends on other inputs, or its input channels were pruned)");
        if (expected.Length != actual.Length) return (null, $"its output has {actual.Length} channels where the reference's has {expected.Length} (pruned)");
        var shift = expected.Zip(actual, (r, c) => (double)r - c).ToArray();
        if (!slot.Shift(graph, view.Names, shift, out problem)) return (null, problem!);
        return (new LayerCorrection(node.Name, shift.Length, shift.Average(Math.Abs), 0, NewBias: false), null);
    }

    /// <summary>The reference layer a node stands for: the node of the same name, or, for a low-rank second factor, the layer factored.</summary>
    private static NodeProto? ReferenceLayer(GraphView reference, string node)
    {
        var name = node.EndsWith(SecondFactorSuffix, StringComparison.Ordinal) ? node[..^SecondFactorSuffix.Length] : node;
        return reference.Nodes.FirstOrDefault(n => n.Name == name && n.OpType is "Conv" or "Gemm" or "MatMul");
    }

    private static readonly string SecondFactorSuffix = LowRank.LowRankFactorization.SecondFactorName("");

    /// <summary>
    /// E[x] shaped as one input of the layer: a row [1, K] for MatMul and Gemm ([K, 1] with transA); for a convolution
    /// one patch [1, C, extent...] (extent (k − 1)·dilation + 1, the statistics' (c, k₁, k₂...) elements at the dilated
    /// taps, zeros between), whose output, with the pads removed, is one position. Null when the sizes disagree.
    /// </summary>
    internal static NdArray? MeanInput(GraphView graph, NodeProto layer, float[] mean)
    {
        if (layer.OpType != "Conv")
            return layer.OpType == "Gemm" && layer.GetInt("transA", 0) != 0 ? NdArray.Create<float>([mean.Length, 1], mean) : NdArray.Create<float>([1, mean.Length], mean);
        if (graph.ConstantTensor(layer.Input[1]) is not { } weight) return null;
        var shape = weight.Dims.ToArray();
        var kernel = shape[2..];
        var groups = layer.GetInt("group", 1);
        var dilations = layer.GetInts("dilations") ?? kernel.Select(_ => 1L).ToArray();
        var perGroup = shape[1];
        if (groups * perGroup * kernel.Aggregate(1L, (a, k) => a * k) != mean.Length || dilations.Length != kernel.Length) return null;
        var extent = kernel.Select((k, i) => (k - 1) * dilations[i] + 1).ToArray();
        var values = new float[groups * perGroup * extent.Aggregate(1L, (a, e) => a * e)];
        var taps = kernel.Aggregate(1L, (a, k) => a * k);
        for (long row = 0; row < groups * perGroup; row++)
            for (long tap = 0; tap < taps; tap++)
            {
                // The tap's position in the patch, last spatial axis fastest (as the weight's and the statistics' layout).
                long position = 0, rest = tap, stride = 1;
                var offsets = new long[kernel.Length];
                for (var axis = kernel.Length - 1; axis >= 0; axis--)
                {
                    offsets[axis] = rest % kernel[axis] * dilations[axis];
                    rest /= kernel[axis];
                }
                for (var axis = kernel.Length - 1; axis >= 0; axis--)
                {
                    position += offsets[axis] * stride;
                    stride *= extent[axis];
                }
                values[row * stride + position] = mean[row * taps + tap];
            }
        return NdArray.Create<float>([1, groups * perGroup, .. extent], values);
    }

    /// <summary>
    /// <paramref name="output"/> computed by ONNX Runtime from <paramref name="input"/> given as <paramref name="inputName"/>,
    /// with only the nodes between them and the constants they read (convolutions unpadded: the input is one patch); null
    /// when the output depends on anything else or ONNX Runtime refuses the probe.
    /// </summary>
    private static float[]? Evaluate(GraphView graph, string output, string inputName, NdArray input, string name)
    {
        var needed = new HashSet<NodeProto>();
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        var pending = new Stack<string>([output]);
        while (pending.TryPop(out var value))
        {
            if (value.Length == 0 || value == inputName || initializers.ContainsKey(value)) continue;
            if (graph.Initializer(value) is { } tensor)
            {
                initializers[value] = tensor;
                continue;
            }
            if (graph.Producer(value) is not { } producer || graph.Subgraphs(producer).Count > 0) return null;
            if (!needed.Add(producer)) continue;
            foreach (var next in producer.Input) pending.Push(next);
        }
        var probe = new ModelProto { IrVersion = graph.Model.Proto.IrVersion, Graph = new GraphProto { Name = "bias-probe" } };
        probe.OpsetImport.Add(graph.Model.Proto.OpsetImport);
        foreach (var node in graph.TopologicalOrder().Where(needed.Contains))
            probe.Graph.Node.Add(node.OpType == "Conv" ? Unpadded(node) : node);
        probe.Graph.Initializer.Add(initializers.Values);
        probe.Graph.Input.Add(OnnxFactory.TensorValueInfo(inputName, DataType.Float, input.Shape.ToArray().Cast<object?>().ToArray()));
        probe.Graph.Output.Add(OnnxFactory.TensorValueInfo(output, DataType.Float, null));
        try
        {
            using var runner = new ModelRunner(probe, name, intraOpThreads: 1, quiet: true);
            return runner.Run(new Dictionary<string, NdArray> { [inputName] = input })[output].ToFloats();
        }
        catch (Exception e) when (e is OnnxRuntimeException or CompressionException)
        {
            // Expected where the layer's input channels were pruned: the reference's mean patch does not fit it.
            return null;
        }
    }

    private static NodeProto Unpadded(NodeProto conv)
    {
        var copy = conv.Clone();
        foreach (var attribute in copy.Attribute.Where(a => a.Name is "pads" or "auto_pad").ToList()) copy.Attribute.Remove(attribute);
        return copy;
    }
}
