using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization.Dynamic;

/// <summary>How a dynamically quantized MatMul is written.</summary>
public enum DynamicQuantizationForm
{
    /// <summary>
    /// Standard ONNX (opset 11): DynamicQuantizeLinear → MatMulInteger → Cast → Mul by (activation scale × weight
    /// scales) → Add bias. ORT fuses the chain into com.microsoft DynamicQuantizeMatMul when the session loads.
    /// </summary>
    Standard,
    /// <summary>com.microsoft DynamicQuantizeMatMul written directly: any opset, ONNX Runtime only.</summary>
    Fused,
}

/// <summary>
/// Dynamic int8 quantization of MatMul and Gemm layers with constant weights: the weights are stored as
/// int8 with one scale per output feature (symmetric), the activations are quantized to uint8 at run
/// time from each run's own range, and the product is an integer matmul scaled back to float. No
/// calibration. Whether it pays depends on the model, so the planner measures it per model: with ONNX
/// Runtime 1.31.1, CPU, batch 1, one thread, fashion-cnn (its two Gemms) runs at 0.88–0.89× the fp32
/// latency with the same accuracy (91.02% vs 91.04%), digits-mlp (three small Gemms) at 1.83–1.86×
/// (<c>dotnet run -c Release --project tests/ModelCompression.QuantizationBench -- table</c>).
/// <para>
/// The two forms (<c>-- dynamic-forms</c>): ORT fuses <see cref="DynamicQuantizationForm.Standard"/> into the very kernel
/// <see cref="DynamicQuantizationForm.Fused"/> names (the optimized graphs are identical) and their latencies are the
/// same (fused/standard 0.98–1.00: 4.2 µs on digits-mlp, 175 µs on fashion-cnn), so Standard is the default: it stays
/// standard ONNX. Conv is not quantized: ORT's ConvInteger was slower than the float Conv on every fashion-cnn-sized
/// layer measured (<c>-- conv-integer</c>: 1.24–2.22× with uint8 weights, 6.4–15× with int8 weights).
/// </para>
/// <para>
/// Leaves alone, and lists in <see cref="Skipped"/>: layers inside subgraphs, weights that are not constant float
/// initializers or not 2-D, weights with fewer than <c>minElements</c> elements, Gemm with transA = 1, and Gemm biases
/// that are not constant.
/// </para>
/// </summary>
/// <param name="nodeNames">The layers to quantize; null for every eligible one.</param>
/// <param name="minElements">Below this many weight elements a layer is left as is (its integer path costs more than it saves).</param>
public sealed class Int8DynamicQuantization(
    IReadOnlySet<string>? nodeNames = null, DynamicQuantizationForm form = DynamicQuantizationForm.Standard, int minElements = Int8DynamicQuantization.DefaultMinElements) : IGraphPass
{
    public const int DefaultMinElements = 128;

    /// <summary>The first opset with DynamicQuantizeLinear.</summary>
    public const int StandardFormMinimumOpset = 11;

    private const string MicrosoftDomain = "com.microsoft";

    public string Name => "int8-dynamic";

    /// <summary>What the last <see cref="Apply"/> left alone and why.</summary>
    public IReadOnlyList<SkippedNode> Skipped { get; private set; } = [];

    /// <summary>Whether <paramref name="form"/> can be written into <paramref name="model"/>; otherwise why not.</summary>
    public static bool CanApply(ModelProto model, DynamicQuantizationForm form, out string reason)
    {
        var opset = new ModelView(model).OpsetVersion();
        if (form == DynamicQuantizationForm.Standard && opset < StandardFormMinimumOpset)
        {
            reason = $"the model imports ONNX opset {opset}; DynamicQuantizeLinear needs opset {StandardFormMinimumOpset} (use the fused form, which ONNX Runtime runs at any opset)";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>The layers (node names) the pass can quantize in <paramref name="model"/>, in graph order.</summary>
    public static IReadOnlyList<string> EligibleNodes(ModelProto model, int minElements = DefaultMinElements)
    {
        var graph = new ModelView(model).Main;
        return QuantizableWeight.Find(graph.Proto).Where(w => Problem(graph, w, minElements) is null).Select(w => w.Node.Name).ToList();
    }

    public int Apply(ModelProto model)
    {
        if (!CanApply(model, form, out var reason))
        {
            Skipped = [new SkippedNode("(model)", reason)];
            return 0;
        }
        var view = new ModelView(model);
        var graph = view.Main;
        var skipped = new List<SkippedNode>();
        bool Requested(NodeProto n) => nodeNames is null || nodeNames.Contains(n.Name);
        foreach (var sub in view.Graphs().Skip(1))
            foreach (var node in sub.Nodes.Where(n => IsLayer(n) && Requested(n)))
                skipped.Add(new SkippedNode(node.Name, "it is inside a subgraph (If/Loop/Scan body); dynamic quantization rewrites the main graph only"));

        var weights = QuantizableWeight.Find(graph.Proto).ToDictionary(w => w.Node, (IEqualityComparer<NodeProto>)ReferenceEqualityComparer.Instance);
        var stored = new Dictionary<(string, int), (string Codes, string Scales)>();
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        var rewrites = 0;
        foreach (var node in graph.Nodes.Where(n => IsLayer(n) && Requested(n)).ToList())
        {
            if (node.OpType == "Conv")
            {
                skipped.Add(new SkippedNode(node.Name, "Conv: ONNX Runtime's ConvInteger is slower than its float Conv"));
                continue;
            }
            var problem = weights.TryGetValue(node, out var weight)
                ? Problem(graph, weight, minElements)
                : "its weight (input 1) is not a constant float initializer, or both operands are constants";
            if (problem is not null)
            {
                skipped.Add(new SkippedNode(node.Name, problem));
                continue;
            }
            var (codes, scales) = Store(graph, view.Names, weight!, stored);
            Rewrite(graph, view.Names, node, codes, scales);
            replaced.Add(weight!.Initializer.Name);
            if (node.OpType == "Gemm" && node.InputOrEmpty(2).Length > 0) replaced.Add(node.Input[2]);
            rewrites++;
        }
        foreach (var name in replaced)
            if (!graph.IsUsed(name) && graph.Initializer(name) is not null) graph.RemoveInitializer(name);
        if (rewrites > 0 && form == DynamicQuantizationForm.Fused && view.OpsetVersion(MicrosoftDomain) == 0)
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
        Skipped = skipped;
        return rewrites;
    }

    private static bool IsLayer(NodeProto node) => node.IsStandard() && node.OpType is "MatMul" or "Gemm" or "Conv";

    private static string? Problem(GraphView graph, QuantizableWeight weight, int minElements)
    {
        var node = weight.Node;
        if (weight.Node.OpType == "Conv") return "Conv: ONNX Runtime's ConvInteger is slower than its float Conv";
        if (!graph.IsConstantInitializer(weight.Initializer.Name)) return "its weight is a graph input callers may override, not a constant";
        if (graph.IsConstant(node.Input[0])) return "both operands are constants (constant folding's job)";
        if (weight.Initializer.Dims.Count != 2) return $"its weight has rank {weight.Initializer.Dims.Count}; only 2-D weights get per-column scales";
        if (TensorProtoConverter.ElementCount(weight.Initializer) < minElements) return $"its weight has fewer than {minElements} elements";
        if (node.OpType == "Gemm")
        {
            if (node.GetInt("transA", 0) != 0) return "transA = 1 (the integer matmul takes A as it is)";
            if (node.InputOrEmpty(2) is { Length: > 0 } bias && !graph.IsConstant(bias)) return "its bias is not a constant";
        }
        return null;
    }

    // The weight as the integer matmul takes it: [K, N] int8, one scale per output column; stored once per (weight, axis).
    private static (string Codes, string Scales) Store(GraphView graph, UniqueNames names, QuantizableWeight weight, Dictionary<(string, int), (string Codes, string Scales)> stored)
    {
        var key = (weight.Initializer.Name, weight.ChannelAxis);
        if (stored.TryGetValue(key, out var existing)) return existing;
        var values = TensorProtoConverter.ToNdArray(weight.Initializer);
        var (codes, scales) = PerChannelQuantizer.Quantize(values.ToFloats(), values.Shape, weight.ChannelAxis);
        var shape = values.Shape.ToArray();
        if (weight.ChannelAxis == 0) // Gemm with transB: [N, K] → [K, N]
        {
            codes = MatrixLayout.Transposed<sbyte>(codes, (int)shape[0], (int)shape[1]);
            shape = [shape[1], shape[0]];
        }
        var result = (names.Next($"{weight.Initializer.Name}_int8"), names.Next($"{weight.Initializer.Name}_scale"));
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<sbyte>(shape, codes), result.Item1));
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([scales.Length], scales), result.Item2));
        return stored[key] = result;
    }

    private void Rewrite(GraphView graph, UniqueNames names, NodeProto node, string codes, string scales)
    {
        var input = node.Input[0];
        var output = node.Output[0];
        var (weightScales, bias, extraAdd) = GemmTerms(graph, names, node, scales);
        var nodes = new List<NodeProto>();
        if (form == DynamicQuantizationForm.Fused)
        {
            var product = extraAdd is null ? output : names.Next($"{output}_product");
            nodes.Add(OnnxFactory.Node("DynamicQuantizeMatMul", [input, codes, weightScales, "", bias ?? ""], [product], node.Name, MicrosoftDomain));
            if (extraAdd is not null) nodes.Add(OnnxFactory.Node("Add", [product, extraAdd], [output], names.Next($"{node.Name}_bias")));
        }
        else
        {
            string Next(string suffix) => names.Next($"{node.Name}_{suffix}");
            var (quantized, scale, zeroPoint, integers, floats, combined) =
                (Next("quantized"), Next("scale"), Next("zero_point"), Next("int32"), Next("float"), Next("output_scale"));
            var addend = bias ?? extraAdd;
            var scaled = addend is null ? output : Next("scaled");
            nodes.Add(OnnxFactory.Node("DynamicQuantizeLinear", [input], [quantized, scale, zeroPoint], Next("DynamicQuantizeLinear")));
            nodes.Add(OnnxFactory.Node("MatMulInteger", [quantized, codes, zeroPoint], [integers], node.Name));
            nodes.Add(OnnxFactory.Node("Cast", [integers], [floats], Next("Cast"), attributes: ("to", (int)DataType.Float)));
            // The activation scale first, as ORT's MatMulIntegerToFloat fusion expects (A scale, then B scale).
            nodes.Add(OnnxFactory.Node("Mul", [scale, weightScales], [combined], Next("combine_scales")));
            nodes.Add(OnnxFactory.Node("Mul", [floats, combined], [scaled], Next("rescale")));
            if (addend is not null) nodes.Add(OnnxFactory.Node("Add", [scaled, addend], [output], Next("bias")));
        }
        var position = graph.PositionOf(node);
        graph.RemoveNode(node);
        for (var i = 0; i < nodes.Count; i++) graph.InsertNode(position + i, nodes[i]);
    }

    /// <summary>
    /// Gemm's alpha folded into the weight scales and beta into the bias (both constants). A bias of one value per output
    /// feature is the kernel's bias input ([N]); any other constant shape stays a broadcast Add after it.
    /// </summary>
    private static (string Scales, string? Bias, string? ExtraAdd) GemmTerms(GraphView graph, UniqueNames names, NodeProto node, string scales)
    {
        if (node.OpType != "Gemm") return (scales, null, null);
        var alpha = node.GetFloat("alpha", 1f);
        var beta = node.GetFloat("beta", 1f);
        if (alpha != 1f)
        {
            graph.TryGetConstant(scales, out var s);
            var scaled = names.Next($"{scales}_{node.Name}_alpha");
            graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>(s!.Shape, s.ToFloats().Select(v => v * alpha).ToArray()), scaled));
            scales = scaled;
        }
        var c = node.InputOrEmpty(2);
        if (c.Length == 0) return (scales, null, null);
        graph.TryGetConstant(c, out var values);
        graph.TryGetConstant(scales, out var scaleValues);
        var features = scaleValues!.ElementCount;
        var perFeature = values!.Rank is 1 or 2 && values.ElementCount == features && values.Shape[^1] == features;
        if (beta == 1f && perFeature && values.Rank == 1) return (scales, c, null);
        var name = names.Next($"{c}_{node.Name}");
        var floats = values.ToFloats().Select(v => v * beta).ToArray();
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(perFeature ? NdArray.Create<float>([features], floats) : NdArray.Create<float>(values.Shape, floats), name));
        return perFeature ? (scales, name, null) : (scales, null, name);
    }
}
