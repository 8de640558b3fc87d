using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Palettization.PaletteTestKit;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Sparsity;

public class MagnitudePruningTests
{
    private static SparsityTarget Layers(double sparsity, params string[] nodes) =>
        SparsityTarget.Layers(nodes.ToDictionary(n => n, _ => sparsity));

    private static float[] Pruned(float[] weights, double sparsity) => MagnitudeThreshold.Prune([weights], sparsity)[0];

    [Theory]
    [InlineData(9, 0.5)]
    [InlineData(10, 0.6)]
    [InlineData(11, 0.75)]
    [InlineData(13, 0.9)]
    [InlineData(16, 0.3)]
    public void The_pruned_weights_are_reproduced_bit_for_bit_and_the_sparsity_is_reached(int opset, double sparsity)
    {
        var weights = Values(250 * 41, 1); // 10,250 elements: the mask's last byte is padding
        var model = MatMulModel(weights, 250, 41, opset);
        var pass = new MagnitudePruning(Layers(sparsity, "matmul"));
        var pruned = model.Clone();

        Assert.Equal(1, pass.Apply(pruned));

        OnnxStructure.Validate(pruned, "pruned");
        var expected = Pruned(weights, sparsity);
        var folded = FoldedWeight(pruned, "matmul");
        Assert.Equal(expected, folded);
        Assert.Equal(Math.Floor(sparsity * weights.Length) / weights.Length, pass.Outcomes.Single().Sparsity, 1e-12);
        Assert.Equal(pass.Outcomes.Single().Sparsity, folded.Count(v => v == 0f) / (double)folded.Length, 1e-12);
        Assert.Equal(["MatMul"], OpsAfterLoad(pruned)); // CumSum/Gather (TopK/Scatter before opset 11) all folded at load
    }

    [Theory]
    [InlineData(9)]
    [InlineData(13)]
    public void Float16_non_zeros_come_back_as_the_float16_rounding_of_the_pruned_weights(int opset)
    {
        var weights = Values(128 * 64, 7);
        var model = MatMulModel(weights, 128, 64, opset);

        Assert.Equal(1, new MagnitudePruning(Layers(0.7, "matmul"), AllAt(["matmul"], 16)).Apply(model));

        Assert.Equal(Pruned(weights, 0.7).Select(v => (float)(Half)v), FoldedWeight(model, "matmul"));
    }

    [Theory]
    [InlineData(0.5, 32)]
    [InlineData(0.75, 32)]
    [InlineData(0.9, 32)]
    [InlineData(0.75, 16)]
    [InlineData(0.5, 4)]
    [InlineData(0.9, 4)]
    [InlineData(0.9, 2)]
    public void The_file_shrinks_as_the_bits_per_weight_formula_says(double sparsity, int bits)
    {
        const int k = 512, n = 256;
        var model = MatMulModel(Values(k * n, 2), k, n);
        var pass = new MagnitudePruning(Layers(sparsity, "matmul"), AllAt(["matmul"], bits));
        var pruned = model.Clone();

        Assert.Equal(1, pass.Apply(pruned));

        var outcome = pass.Outcomes.Single();
        // The model shrinks by what the outcome says (up to the graph's length prefix and the reader's longer input name)...
        Assert.InRange(model.CalculateSize() - pruned.CalculateSize() - (outcome.OriginalBytes - outcome.MaskedBytes), -12, 4);
        // ...which is the formula's 1 + (1 − s)·b bits per weight, plus the palette and about 1.6 KB of nodes.
        var formula = k * n * SparseEncoding.MaskedBitsPerWeight(sparsity, bits) / 8;
        var palette = bits <= 8 ? 4 << bits : 0;
        Assert.InRange(outcome.MaskedBytes, formula + palette, formula + palette + 1700);
        ModelEquivalence.Run(pruned, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([1, k], 3) });
    }

    [Theory]
    [InlineData(PaletteGranularity.PerTensor, 9)]
    [InlineData(PaletteGranularity.PerChannelGroup, 9)]
    [InlineData(PaletteGranularity.PerTensor, 13)]
    [InlineData(PaletteGranularity.PerChannelGroup, 16)]
    public void Non_zeros_stored_as_palette_codes_are_reproduced_exactly_when_their_palettes_hold_them(PaletteGranularity granularity, int opset)
    {
        // Gemm with transB (channel axis 0, stride K) and MatMul (channel axis 1: channels repeat along axis 0). Each
        // group of 4 channels takes 8 distinct values (per tensor: 8 in all), so 3-bit palettes are exact.
        var distinct = Values(8 * 96, 4);
        float Value(int channel, int i) => distinct[(granularity == PaletteGranularity.PerTensor ? 0 : channel / 4 * 8) + (i * 5 + channel) % 8];
        var gemmWeights = new float[64 * 384]; // [N = 64, K = 384]
        for (var i = 0; i < gemmWeights.Length; i++) gemmWeights[i] = Value(i / 384, i);
        var matMulWeights = new float[64 * 384]; // [K = 64, N = 384]
        for (var i = 0; i < matMulWeights.Length; i++) matMulWeights[i] = Value(i % 384, i);
        var model = new OnnxBuilder(opset)
            .Input("x", DataType.Float, 1, 384)
            .Initializer("g", gemmWeights, 64, 384)
            .Initializer("b", Values(64, 5), 64)
            .Initializer("m", matMulWeights, 64, 384)
            .Node("Gemm", ["x", "g", "b"], ["h"], "gemm", ("transB", 1))
            .Node("MatMul", ["h", "m"], ["y"], "matmul")
            .Output("y", DataType.Float, 1, 384)
            .Build();
        var pass = new MagnitudePruning(Layers(0.75, "gemm", "matmul"), AllAt(["gemm", "matmul"], 3), granularity, channelGroupSize: 4);

        Assert.Equal(2, pass.Apply(model));

        Assert.All(pass.Outcomes, o => Assert.True(o.Applied, o.Refusal));
        // Wrong palette offsets would read another group's palette: the values would differ.
        Assert.Equal(Pruned(gemmWeights, 0.75), FoldedWeight(model, "gemm"));
        Assert.Equal(Pruned(matMulWeights, 0.75), FoldedWeight(model, "matmul"));
    }

    [Fact]
    public void Palette_codes_of_random_non_zeros_compute_what_the_pass_reports()
    {
        var weights = Values(300 * 64, 5);
        var model = MatMulModel(weights, 300, 64);
        var pass = new MagnitudePruning(Layers(0.75, "matmul"), AllAt(["matmul"], 4), PaletteGranularity.PerChannelGroup, 8);

        pass.Apply(model);

        var folded = FoldedWeight(model, "matmul");
        var expected = Pruned(weights, 0.75);
        Assert.All(Enumerable.Range(0, folded.Length), i => Assert.Equal(expected[i] == 0f, folded[i] == 0f));
        var outcome = pass.Outcomes.Single();
        Assert.Equal(outcome.RmsError, Rms(weights, folded), 1e-6 * outcome.RmsError);
        Assert.InRange(Rms(expected, folded), 1e-4, 0.05); // 16 levels over the survivors of each group of 8 channels
    }

    [Theory]
    [InlineData(0.02, 32)]
    [InlineData(0.05, 16)]
    [InlineData(0.2, 4)]
    [InlineData(0.4, 2)]
    public void A_sparsity_below_one_over_b_is_refused_and_the_tensor_left_unchanged(double sparsity, int bits)
    {
        var model = MatMulModel(Values(256 * 128, 6), 256, 128);
        var pass = new MagnitudePruning(Layers(sparsity, "matmul"), AllAt(["matmul"], bits));
        var before = model.Clone();

        Assert.Equal(0, pass.Apply(model));

        Assert.Equal(before, model);
        var outcome = pass.Outcomes.Single();
        Assert.False(outcome.Applied);
        Assert.True(outcome.MaskedBytes >= outcome.DenseBytes);
        Assert.Contains("not smaller than its values stored densely", outcome.Refusal);
    }

    [Fact]
    public void A_global_target_prunes_all_chosen_layers_with_one_threshold()
    {
        var model = ConvGemmModel();
        var pass = new MagnitudePruning(SparsityTarget.Global(0.8, ["conv", "fc"]));

        Assert.Equal(2, pass.Apply(model));

        var conv = pass.Outcomes.Single(o => o.Tensor == "conv.w");
        var fc = pass.Outcomes.Single(o => o.Tensor == "fc.w");
        Assert.Equal(Math.Floor(0.8 * (conv.Elements + fc.Elements)), conv.Sparsity * conv.Elements + fc.Sparsity * fc.Elements, 1e-6);
        var original = ConvGemmModel();
        var expected = MagnitudeThreshold.Prune([Initializer(original, "conv.w"), Initializer(original, "fc.w")], 0.8);
        Assert.Equal(expected[0], FoldedWeight(model, "conv"));
        Assert.Equal(expected[1], FoldedWeight(model, "fc"));
        ModelEquivalence.Run(model, ConvGemmInput());
    }

    [Fact]
    public void Weights_read_inside_if_branches_are_pruned_in_the_graph_that_holds_them()
    {
        var model = RecurrentBranchesModel(opset: 16);
        var nodes = MagnitudePruning.EligibleNodes(model);
        var pruned = model.Clone();

        Assert.Equal(4, new MagnitudePruning(Layers(0.8, [.. nodes])).Apply(pruned));

        OnnxStructure.Validate(pruned, "pruned");
        Assert.DoesNotContain(pruned.Graph.Initializer, t => t.Name is "lstm.w" or "lstm.r");
        Assert.Contains(Branch(pruned, "else_branch").Node, n => n.OpType == "CumSum"); // the GRU's weights stay in its branch
        // What ONNX Runtime computes at load, in the branch and from the main graph, is the pruned weights.
        var branch = Branch(model, "else_branch");
        Assert.Equal(Pruned(Initializer(model.Graph, "lstm.w"), 0.8), FoldedWeight(pruned, "lstm", 1));
        Assert.Equal(Pruned(Initializer(model.Graph, "lstm.r"), 0.8), FoldedWeight(pruned, "lstm", 2));
        Assert.Equal(Pruned(Initializer(branch, "gru.w"), 0.8), FoldedWeight(pruned, "gru", 1));
        Assert.Equal(Pruned(Initializer(branch, "gru.r"), 0.8), FoldedWeight(pruned, "gru", 2));
        foreach (var condition in new[] { true, false }) Compare(model, pruned, RecurrentBranchesInput(condition));
        Assert.Equal(0, CountOps(AsOptimizedByOnnxRuntime(pruned), "CumSum"));
    }

    [Fact]
    public void Models_before_opset_9_have_nothing_eligible() =>
        Assert.Empty(MagnitudePruning.EligibleNodes(ConvGemmModel(opset: 8)));

    [Fact]
    public void Value_widths_other_than_32_16_or_1_to_8_bits_are_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new MagnitudePruning(Layers(0.5, "a"), AllAt(["a"], 12)));

    private static float[] Initializer(ModelProto model, string name) => Initializer(model.Graph, name);

    private static float[] Initializer(GraphProto graph, string name) =>
        TensorProtoConverter.ToNdArray(graph.Initializer.Single(t => t.Name == name)).ToFloats();
}
