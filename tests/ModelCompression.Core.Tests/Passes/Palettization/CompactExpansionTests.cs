using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Palettization.PaletteTestKit;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Palettization;

/// <summary>The palettized form's fixed cost in the file, and that its compact expansion computes the k-means result exactly.</summary>
public class CompactExpansionTests
{
    [Theory]
    [InlineData(PaletteGranularity.PerTensor)]
    [InlineData(PaletteGranularity.PerChannelGroup)]
    public void A_small_weight_costs_under_300_bytes_beyond_its_codes(PaletteGranularity granularity)
    {
        // digits-mlp's low-rank factor: 12 × 128 (channels along axis 1) at 4 bits: 768 B of codes. Eight palettes would
        // cost 512 B (2/3 of the codes), so the channel-group layout falls back to one palette; then the 64 B palette,
        // five nodes (Cast, Div, Mod, Gather, Flatten) and three small constants are all the rest.
        var model = MatMulModel(Values(12 * 128, 31), 12, 128);
        var originalSize = model.CalculateSize();
        var pass = new WeightPalettization(AllAt(["matmul"], 4), granularity, channelGroupSize: 16);

        Assert.Equal(1, pass.Apply(model));

        var outcome = pass.Outcomes.Single();
        Assert.Equal(1, outcome.Groups);
        Assert.InRange(outcome.EncodedBytes - BitSlices.Bytes(12 * 128, 4), 64, 300);
        Assert.Equal(["Cast", "Div", "Mod", "Gather", "Flatten", "MatMul"], model.Graph.Node.Select(n => n.OpType));
        // The outcome counts what the file holds (give or take the graph's length prefix).
        Assert.InRange(model.CalculateSize() - (originalSize - outcome.OriginalBytes + outcome.EncodedBytes), -2, 2);
    }

    [Fact]
    public void Channel_group_palettes_add_one_offset_per_group_not_per_channel()
    {
        // 256 × 128 at 4 bits, 16 channels per palette: 16 KB of codes, 8 palettes (2 KB). The offsets g·16 broadcast
        // from a [8, 1, 1] constant; nothing is stored per channel.
        var model = MatMulModel(Values(256 * 128, 32), 256, 128);
        var pass = new WeightPalettization(AllAt(["matmul"], 4), PaletteGranularity.PerChannelGroup, channelGroupSize: 16);

        pass.Apply(model);

        var outcome = pass.Outcomes.Single();
        Assert.Equal(8, outcome.Groups);
        Assert.InRange(outcome.EncodedBytes - BitSlices.Bytes(256 * 128, 4) - 8 * 16 * 4, 0, 360);
        Assert.DoesNotContain(model.Graph.Initializer, t => t.DataType == (int)DataType.Int32 && TensorProtoConverter.ElementCount(t) >= 128);
    }

    [Fact]
    public void Palettes_of_one_graph_share_their_small_constants()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 64)
            .Initializer("a", Values(64 * 64, 33), 64, 64)
            .Initializer("b", Values(64 * 64, 34), 64, 64)
            .Node("MatMul", ["x", "a"], ["h"], "first")
            .Node("MatMul", ["h", "b"], ["y"], "second")
            .Output("y", DataType.Float, 1, 64)
            .Build();
        var original = model.Clone();
        var pass = new WeightPalettization(AllAt(["first", "second"], 4));

        Assert.Equal(2, pass.Apply(model));

        // One divisor [1, 16] and one base 16 for both weights; the second weight's form is smaller by their bytes.
        Assert.Single(model.Graph.Initializer, t => t.Dims.SequenceEqual([2L]) && t.DataType == (int)DataType.Int32);
        Assert.Equal(2, model.Graph.Node.Count(n => n.OpType == "Div" && n.Input[1] == model.Graph.Node.First(d => d.OpType == "Div").Input[1]));
        Assert.True(pass.Outcomes[1].EncodedBytes < pass.Outcomes[0].EncodedBytes, $"{pass.Outcomes[0].EncodedBytes} then {pass.Outcomes[1].EncodedBytes}");
        ModelEquivalence.AssertSameOutputs(model, ExpectedModel(original, ["first", "second"], 4, PaletteGranularity.PerTensor), new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([1, 64], 35) });
    }

    /// <summary>
    /// The folded weight is, bit for bit, what the k-means palettes decode to (<see cref="PalettizedValues.Decode"/>,
    /// as the pass computed before its expansion was made compact), in every layout: the channel axis first or last,
    /// 4-D, groups of unequal size (a stored offset per channel), multi-slice widths and counts that leave a partial byte.
    /// </summary>
    [Theory]
    [InlineData("matmul", 64, 96, 4, PaletteGranularity.PerTensor, 16)]
    [InlineData("matmul", 64, 96, 4, PaletteGranularity.PerChannelGroup, 16)]   // axis 1: [K, G, GS/2, 2]
    [InlineData("gemm", 96, 64, 4, PaletteGranularity.PerChannelGroup, 16)]     // axis 0: [G, GS, K/2, 2]
    [InlineData("gemm", 96, 63, 4, PaletteGranularity.PerChannelGroup, 16)]     // axis 0, odd rows: [G, GS·K/2, 2]
    [InlineData("gemm", 96, 64, 3, PaletteGranularity.PerChannelGroup, 16)]     // two slices brought to one shape
    [InlineData("matmul", 63, 97, 3, PaletteGranularity.PerTensor, 16)]         // uneven: flattened and trimmed
    [InlineData("matmul", 64, 97, 5, PaletteGranularity.PerChannelGroup, 16)]   // a last group of one channel
    [InlineData("matmul", 512, 64, 8, PaletteGranularity.PerChannelGroup, 16)]  // plain bytes
    [InlineData("conv", 64, 32, 3, PaletteGranularity.PerChannelGroup, 16)]     // [64, 32, 3, 3]
    [InlineData("conv", 64, 32, 2, PaletteGranularity.PerTensor, 16)]
    public void The_folded_weight_is_the_k_means_decoding(string op, int rows, int columns, int bits, PaletteGranularity granularity, int groupSize)
    {
        var (model, shape, axis) = op switch
        {
            "matmul" => (MatMulModel(Values(rows * columns, 36), rows, columns), new long[] { rows, columns }, 1),
            "gemm" => (GemmModel(rows, columns), new long[] { rows, columns }, 0),
            _ => (ConvModel(rows, columns), new long[] { rows, columns, 3, 3 }, 0),
        };
        var weights = TensorProtoConverter.ToNdArray(model.Graph.Initializer.Single(t => t.Name == "w")).ToFloats();
        var layout = granularity == PaletteGranularity.PerChannelGroup
            ? WeightPalettization.GroupLayout(shape, axis, groupSize, bits)
            : ChannelLayout.Whole(shape);
        var expected = PalettizedValues.Fit(weights, bits, layout.Groups, layout.GroupsOf(weights.Length)).Decode();

        Assert.Equal(1, new WeightPalettization(AllAt([op], bits), granularity, groupSize).Apply(model));

        OnnxStructure.Validate(model, "palettized");
        if (granularity == PaletteGranularity.PerChannelGroup) Assert.True(layout.Groups > 1, "the case should exercise several palettes");
        Assert.Equal(expected, FoldedWeight(model, op));
        Assert.Equal([op == "conv" ? "Conv" : op == "gemm" ? "Gemm" : "MatMul"], OpsAfterLoad(model));
    }

    // The pass applied to a copy: the same decoded weights, for comparing outputs.
    private static ModelProto ExpectedModel(ModelProto model, string[] nodes, int bits, PaletteGranularity granularity)
    {
        var copy = model.Clone();
        new WeightPalettization(AllAt(nodes, bits), granularity).Apply(copy);
        return copy;
    }

    /// <summary>x [1, K] → Gemm (transB) with w [N, K] → y [1, N]: the channel axis first.</summary>
    private static ModelProto GemmModel(int n, int k) => new OnnxBuilder()
        .Input("x", DataType.Float, 1, k)
        .Initializer("w", Values(n * k, 37), n, k)
        .Node("Gemm", ["x", "w"], ["y"], "gemm", ("transB", 1))
        .Output("y", DataType.Float, 1, n)
        .Build();

    /// <summary>x [1, I, 5, 5] → Conv with w [O, I, 3, 3] → y [1, O, 3, 3].</summary>
    private static ModelProto ConvModel(int o, int i) => new OnnxBuilder()
        .Input("x", DataType.Float, 1, i, 5, 5)
        .Initializer("w", Values(o * i * 9, 38), o, i, 3, 3)
        .Node("Conv", ["x", "w"], ["y"], "conv", ("kernel_shape", new[] { 3, 3 }))
        .Output("y", DataType.Float, 1, o, 3, 3)
        .Build();
}
