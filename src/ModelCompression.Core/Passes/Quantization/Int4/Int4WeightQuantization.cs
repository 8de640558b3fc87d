using System.Numerics;
using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization.Int4;

/// <summary>
/// Replaces MatMul (constant B [K, N], A of any rank) and Gemm (transA = 0, constant B, any alpha; beta·C folded into
/// the bias input when C is a constant of N values, else added after) by ONNX Runtime's <c>com.microsoft.MatMulNBits</c>
/// with B stored as 4-bit codes in blocks along K (<see cref="BlockQuantizer"/>): the weight shrinks 6.4× (block 32)
/// to 7.5× (block 128), scales included. Nodes keep their names, so plans can refer to them.
/// </summary>
/// <remarks>
/// MatMulNBits is an ONNX Runtime operator (verified with 1.31: inputs A, B [N, blocks, block/2], scales [N, blocks],
/// zero points [N, ⌈blocks/2⌉], g_idx, bias [N]); no other runtime is expected to run the result. The packed weights
/// go into the node's own graph, since ONNX Runtime prepacks only a node's own constant initializers; nodes of
/// If/Loop bodies that cannot hold initializers (IR version &lt; 4) are skipped, as are weights computed from an
/// initializer (<see cref="QuantizableWeight.IsDirect"/> false). Measured batch-1 latency against fp32 (ONNX Runtime
/// 1.31, one thread): fashion-cnn's 3136×256 Gemm 0.97–0.99 (accuracy level 0), 0.86–0.88 (level 4); ppocr-rec
/// 0.99 / 0.96; digits-mlp's tiny Gemms (64×128) 1.4–1.6, about one microsecond more per node.
/// </remarks>
/// <param name="nodeNames">The nodes to replace; null for all eligible ones.</param>
/// <param name="rounding">With <see cref="Rounding.Hessian"/>, weights whose layers have input moments in
/// <paramref name="statistics"/> are rounded by GPTQ (<see cref="GptqBlockwise"/>: same layout, scales chosen block by
/// block on the error-corrected weights); the others to nearest, as without.</param>
public sealed class Int4WeightQuantization(IReadOnlySet<string>? nodeNames = null, Int4Settings? settings = null, int minElements = Int4WeightQuantization.DefaultMinElements,
    Rounding rounding = Rounding.Nearest, ILayerStatistics? statistics = null) : IGraphPass
{
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>Below this many weights a node is left as is: the MatMulNBits kernel's fixed costs outweigh the bytes saved.</summary>
    public const int DefaultMinElements = 1024;

    private readonly Int4Settings _settings = (settings ?? Int4Settings.Default).Validated();

    public string Name => "int4-weights";

    /// <summary>The MatMul/Gemm weights of <paramref name="model"/> (subgraphs included) this pass can replace, whatever nodes it is limited to.</summary>
    public static IReadOnlyList<QuantizableWeight> Eligible(ModelProto model, int minElements = DefaultMinElements) =>
        Eligible(new ModelView(model), minElements);

    private static IReadOnlyList<QuantizableWeight> Eligible(ModelView model, int minElements) =>
        QuantizableWeight.Find(model).Where(w => IsEligible(w, minElements)).ToList();

    private static bool IsEligible(QuantizableWeight weight, int minElements)
    {
        var node = weight.Node;
        if (!weight.IsDirect || weight.Initializer.Dims.Count != 2 || weight.InputIndex != 1 || !weight.Graph!.CanAddInitializers) return false;
        if (TensorProtoConverter.ElementCount(weight.Initializer) < minElements) return false;
        return node.OpType switch
        {
            "MatMul" => node.Input.Count == 2,
            // C non-constant can only be added after the product, which needs beta = 1.
            "Gemm" => node.GetInt("transA", 0) == 0
                && (node.InputOrEmpty(2).Length == 0 || node.GetFloat("beta", 1f) == 1f || ConstantBias(weight.Graph, node, N(weight)) is not null),
            _ => false,
        };
    }

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var chosen = Eligible(view, minElements).Where(w => nodeNames is null || nodeNames.Contains(w.Node.Name)).ToList();
        if (chosen.Count == 0) return 0;
        if (view.OpsetVersion(MicrosoftDomain) == 0)
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });

        // One packed copy per weight, graph and orientation (and alpha), however many nodes read it.
        var packed = new Dictionary<(GraphView, GraphView, string, bool, float), PackedWeight>(); // views compare by reference
        static (GraphView, GraphView, string, bool, float) KeyOf(QuantizableWeight weight)
        {
            var node = weight.Node;
            var transposed = node.OpType == "Gemm" && node.GetInt("transB", 0) == 1; // B stored [N, K], as MatMulNBits wants
            var alpha = node.OpType == "Gemm" ? node.GetFloat("alpha", 1f) : 1f;
            return (weight.Graph!, weight.Owner!, weight.Initializer.Name, transposed, alpha);
        }
        // Every H before the first rewrite (a second low-rank factor's is derived from its partner's float weight),
        // pooled over the nodes sharing a packed copy.
        var moments = rounding == Rounding.Hessian ? new LayerMoments(statistics, view) : null;
        var hessians = chosen.GroupBy(KeyOf).ToDictionary(g => g.Key, g => moments?.For(g));
        foreach (var weight in chosen)
        {
            var (graph, owner) = (weight.Graph!, weight.Owner!);
            var key = KeyOf(weight);
            var (_, _, _, transposed, alpha) = key;
            if (!packed.TryGetValue(key, out var weights))
                packed[key] = weights = AddPacked(graph, view.Names, weight.Initializer, transposed, alpha, hessians[key]);
            Replace(graph, view.Names, weight, weights);
            if (!owner.IsUsed(weight.Initializer.Name)) owner.RemoveInitializer(weight.Initializer.Name);
        }
        return chosen.Count;
    }

    /// <summary>MatMulNBits' inputs 1..3 (B, scales, zero points) and its block size.</summary>
    private sealed record PackedWeight(string[] Inputs, int BlockSize);

    /// <summary>
    /// The block size for <paramref name="k"/> inputs: the setting, but no larger than K rounded up to a power of two
    /// (a block of 128 over K = 64 would store 64 padding codes for the same single scale).
    /// </summary>
    public int BlockSizeFor(long k) => BlockSizeFor(k, _settings.BlockSize);

    /// <summary>The block size for <paramref name="k"/> inputs given the setting <paramref name="blockSize"/> (see the instance method).</summary>
    public static int BlockSizeFor(long k, int blockSize) => (int)Math.Min((ulong)blockSize, Math.Max(16UL, BitOperations.RoundUpToPowerOf2((ulong)k)));

    // Adds B, scales (and zero points) to the node's graph.
    private PackedWeight AddPacked(GraphView graph, UniqueNames names, TensorProto initializer, bool transposed, float alpha, RoundingInput? hessian)
    {
        var source = TensorProtoConverter.ToNdArray(initializer);
        var weights = source.ToFloats();
        var (n, k) = transposed ? ((int)source.Shape[0], (int)source.Shape[1]) : ((int)source.Shape[1], (int)source.Shape[0]);
        var rows = transposed ? weights : MatrixLayout.Transposed(weights, k, n);
        var q = hessian is { Hessians: [var h] }
            ? GptqBlockwise.Quantize(rows, n, k, BlockSizeFor(k), _settings.Symmetric, h)
            : BlockQuantizer.Quantize(rows, n, k, BlockSizeFor(k), _settings.Symmetric);
        var scales = alpha == 1f ? q.Scales : q.Scales.Select(s => s * alpha).ToArray();

        var baseName = initializer.Name;
        var bName = names.Next($"{baseName}.int4");
        var scalesName = names.Next($"{baseName}.int4_scales");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<byte>([n, q.Blocks, q.BlockSize / 2], q.Packed), bName));
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([n, q.Blocks], scales), scalesName));
        if (q.ZeroPoints is null) return new PackedWeight([bName, scalesName], q.BlockSize);
        var zeroPointsName = names.Next($"{baseName}.int4_zero_points");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<byte>([n, q.ZeroPointBytesPerRow], q.ZeroPoints), zeroPointsName));
        return new PackedWeight([bName, scalesName, zeroPointsName], q.BlockSize);
    }

    private void Replace(GraphView graph, UniqueNames names, QuantizableWeight weight, PackedWeight packed)
    {
        var node = weight.Node;
        var n = N(weight);
        var k = TensorProtoConverter.ElementCount(weight.Initializer) / n;
        var output = node.Output[0];
        var inputs = new List<string> { node.Input[0] };
        inputs.AddRange(packed.Inputs);
        NodeProto? add = null;
        var c = node.OpType == "Gemm" ? node.InputOrEmpty(2) : "";
        if (c.Length > 0)
        {
            if (ConstantBias(graph, node, n) is { } bias)
            {
                while (inputs.Count < 5) inputs.Add(""); // zero_points and g_idx absent
                inputs.Add(graph.SetConstantInput(node, 2, bias, $"{c}.int4_bias"));
            }
            else
            {
                // C of another shape (e.g. [M, N]) broadcasts in an Add exactly as in Gemm.
                var product = names.Next($"{output}.product");
                add = OnnxFactory.Node("Add", [product, c], [output], names.Next($"{node.Name}.add_c"));
                output = product;
            }
        }
        var replacement = OnnxFactory.Node("MatMulNBits", inputs, [output], node.Name, MicrosoftDomain,
            ("K", k), ("N", n), ("bits", Int4Settings.Bits), ("block_size", packed.BlockSize));
        if (_settings.AccuracyLevel != 0) replacement.Attribute.Add(OnnxFactory.Attribute("accuracy_level", _settings.AccuracyLevel));
        graph.ReplaceNode(node, replacement);
        if (add is not null) graph.InsertNode(graph.PositionOf(replacement) + 1, add);
        if (c.Length > 0 && graph.Initializer(c) is not null && !graph.IsUsed(c))
            graph.RemoveInitializer(c); // C lives on as the (new) bias input
    }

    private static long N(QuantizableWeight weight) => weight.Initializer.Dims[weight.ChannelAxis];

    // beta·C as a [N] vector when C is a constant float of N values ([N] or [1, N]); null otherwise.
    private static NdArray? ConstantBias(GraphView graph, NodeProto node, long n)
    {
        if (!graph.TryGetConstant(node.InputOrEmpty(2), out var c) || c.ElementType != DataType.Float || c.ElementCount != n) return null;
        if (c.Rank > 2 || (c.Rank == 2 && c.Shape[0] != 1)) return null;
        var beta = node.GetFloat("beta", 1f);
        return NdArray.Create<float>([n], c.ToFloats().Select(v => v * beta).ToArray());
    }
}
