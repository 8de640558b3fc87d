using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Palettization.PaletteTestKit;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Palettization;

public class WeightPalettizationTests
{
    [Fact]
    public void With_256_centroids_a_tensor_of_256_distinct_values_is_reproduced_exactly()
    {
        // 64 × 40 weights taking 256 distinct values, in a shuffled order.
        var distinct = Values(256, 1);
        var random = new Random(2);
        var weights = Enumerable.Range(0, 64 * 40).Select(i => distinct[i < 256 ? i : random.Next(256)]).ToArray();
        var model = MatMulModel(weights, 64, 40);
        var palettized = model.Clone();

        Assert.Equal(1, new WeightPalettization(AllAt(["matmul"], 8)).Apply(palettized));

        OnnxStructure.Validate(palettized, "palettized");
        Assert.DoesNotContain(palettized.Graph.Initializer, t => t.Name == "w");
        Assert.Equal(weights, FoldedWeight(palettized, "matmul"));
        ModelEquivalence.AssertSameOutputs(model, palettized, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([1, 64], 3) });
    }

    [Theory]
    [InlineData(1, 1000, 13)]
    [InlineData(2, 999, 13)]
    [InlineData(3, 1003, 9)]
    [InlineData(4, 1024, 16)]
    [InlineData(5, 1001, 11)]
    [InlineData(6, 997, 9)]
    [InlineData(7, 1005, 16)]
    [InlineData(8, 1000, 9)]
    public void Every_code_width_unpacks_exactly_in_onnx_runtime(int bits, int count, int opset)
    {
        // 2^bits distinct values: the palette is exact, so the folded weight shows the unpacking (and the trimming of
        // the last byte's padding when count is not a multiple of 8/w; Slice changes form at opset 10)
        // bit for bit.
        var distinct = Values(1 << bits, bits);
        var weights = Enumerable.Range(0, count).Select(i => distinct[(i * 7 + i / 3) % distinct.Length]).ToArray();
        var model = new OnnxBuilder(opset)
            .Input("x", DataType.Float, 1, count)
            .Initializer("w", weights, count, 1)
            .Node("MatMul", ["x", "w"], ["y"], "matmul")
            .Output("y", DataType.Float, 1, 1)
            .Build();

        Assert.Equal(1, new WeightPalettization(AllAt(["matmul"], bits)).Apply(model));

        Assert.Equal(weights, FoldedWeight(model, "matmul"));
    }

    [Fact]
    public void The_error_falls_as_the_code_width_grows()
    {
        var model = ConvGemmModel();
        var errors = new List<double>();
        foreach (var bits in new[] { 2, 3, 4, 5, 6, 7, 8 })
        {
            var palettized = model.Clone();
            new WeightPalettization(AllAt(["conv", "fc"], bits)).Apply(palettized);
            errors.Add(Compare(model, palettized, ConvGemmInput()).MaxError);
        }

        for (var i = 1; i < errors.Count; i++) Assert.True(errors[i] < errors[i - 1], $"errors by width 2..8: {string.Join(", ", errors)}");
        Assert.True(errors[^1] < 0.01 * Compare(model, model, ConvGemmInput()).MaxMagnitude);
    }

    [Fact]
    public void Palettes_per_channel_group_beat_one_palette_when_channels_have_different_scales()
    {
        // 32 output channels whose scales span 1 to 1000: one 4-bit palette spends its centroids on the large channels.
        var weights = Values(256 * 32, 4);
        for (var i = 0; i < weights.Length; i++) weights[i] *= MathF.Pow(1000f, i % 32 / 31f);
        var model = MatMulModel(weights, 256, 32);
        var perTensor = model.Clone();
        var perGroup = model.Clone();

        new WeightPalettization(AllAt(["matmul"], 4)).Apply(perTensor);
        new WeightPalettization(AllAt(["matmul"], 4), PaletteGranularity.PerChannelGroup, channelGroupSize: 4).Apply(perGroup);

        // Each channel's error relative to its own scale (what its output feels), averaged over the channels.
        double RelativeError(float[] folded) => Enumerable.Range(0, 32).Average(c =>
        {
            var column = Enumerable.Range(0, 256).Select(k => k * 32 + c).ToArray();
            return Rms(column.Select(i => weights[i]).ToArray(), column.Select(i => folded[i]).ToArray())
                / Math.Sqrt(column.Average(i => (double)weights[i] * weights[i]));
        });
        var tensorError = RelativeError(FoldedWeight(perTensor, "matmul"));
        var groupError = RelativeError(FoldedWeight(perGroup, "matmul"));
        Assert.True(groupError < tensorError / 3, $"per group {groupError}, per tensor {tensorError}");
        Assert.InRange(groupError, 0.01, 0.15); // 16 levels over a channel group's range
        // The folded weight is what the pass computed: channel c reads palette c / 4.
        var pass = new WeightPalettization(AllAt(["matmul"], 4), PaletteGranularity.PerChannelGroup, channelGroupSize: 4);
        pass.Apply(model.Clone());
        Assert.Equal(8, pass.Outcomes.Single().Groups);
        Assert.Equal(pass.Outcomes.Single().RmsError, Rms(weights, FoldedWeight(perGroup, "matmul")), 1e-6 * pass.Outcomes.Single().RmsError);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(8)]
    public void The_file_shrinks_by_about_32_over_n_on_a_large_weight(int bits)
    {
        var model = MatMulModel(Values(512 * 512, 5), 512, 512);
        var palettized = model.Clone();

        new WeightPalettization(AllAt(["matmul"], bits)).Apply(palettized);

        var ratio = model.CalculateSize() / (double)palettized.CalculateSize();
        Assert.InRange(ratio, 0.95 * 32 / bits, 32.0 / bits);
        ModelEquivalence.Run(palettized, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([1, 512], 6) });
    }

    [Theory]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(11)]
    [InlineData(13)]
    [InlineData(16)]
    [InlineData(18)]
    public void Models_of_every_opset_load_run_and_fold_the_expansion(int opset)
    {
        var model = ConvGemmModel(opset);
        var palettized = model.Clone();

        Assert.Equal(2, new WeightPalettization(AllAt(["conv", "fc"], 3), PaletteGranularity.PerChannelGroup, 8).Apply(palettized));

        OnnxStructure.Validate(palettized, "palettized");
        var (error, magnitude) = Compare(model, palettized, ConvGemmInput());
        Assert.InRange(error, 1e-6, 0.25 * magnitude); // 8 levels on uniform random weights
        // Whatever ops the opset needs, the weights computed are those of the opset-13 form, bit for bit.
        var reference = ConvGemmModel(13);
        new WeightPalettization(AllAt(["conv", "fc"], 3), PaletteGranularity.PerChannelGroup, 8).Apply(reference);
        Assert.Equal(FoldedWeight(reference, "fc"), FoldedWeight(palettized, "fc"));
        Assert.Equal(FoldedWeight(reference, "conv"), FoldedWeight(palettized, "conv"));
        // At load ONNX Runtime folds every expansion node: the model it runs is the float model's graph.
        Assert.Equal(["Conv", "Relu", "MaxPool", "Flatten", "Gemm"], OpsAfterLoad(palettized));
    }

    [Theory]
    [InlineData(PaletteGranularity.PerTensor)]
    [InlineData(PaletteGranularity.PerChannelGroup)]
    public void Weights_read_inside_if_branches_are_palettized_in_the_graph_that_holds_them(PaletteGranularity granularity)
    {
        var model = RecurrentBranchesModel();
        var nodes = WeightPalettization.EligibleNodes(model);
        var palettized = model.Clone();

        Assert.Equal(["gru", "lstm"], nodes);
        Assert.Equal(4, new WeightPalettization(AllAt(nodes, 5), granularity).Apply(palettized));

        OnnxStructure.Validate(palettized, "palettized");
        Assert.DoesNotContain(palettized.Graph.Initializer, t => t.Name is "lstm.w" or "lstm.r");
        Assert.DoesNotContain(Branch(palettized, "else_branch").Initializer, t => t.Name is "gru.w" or "gru.r");
        Assert.Contains(Branch(palettized, "else_branch").Node, n => n.OpType == "Gather"); // the GRU's weights stay in its branch
        foreach (var condition in new[] { true, false })
        {
            var (error, magnitude) = Compare(model, palettized, RecurrentBranchesInput(condition));
            Assert.InRange(error, 1e-7, 0.1 * magnitude); // 32 levels on uniform random weights
        }
        Assert.Equal(0, CountOps(AsOptimizedByOnnxRuntime(palettized), "Gather"));
    }

    [Fact]
    public void A_float16_palette_halves_the_table_and_moves_centroids_by_float16_rounding_only()
    {
        var weights = Values(512 * 64, 6);
        var model = MatMulModel(weights, 512, 64);
        var single = new WeightPalettization(AllAt(["matmul"], 6), PaletteGranularity.PerChannelGroup, 8);
        var half = new WeightPalettization(AllAt(["matmul"], 6), PaletteGranularity.PerChannelGroup, 8, PaletteTable.Float16);
        var (singleModel, halfModel) = (model.Clone(), model.Clone());

        single.Apply(singleModel);
        half.Apply(halfModel);

        // 8 palettes of 64 entries (both within 1/8 of the 24 KB of codes): 2 KB as float32, 1 KB as float16.
        Assert.Equal((8, 8), (single.Outcomes[0].Groups, half.Outcomes[0].Groups));
        Assert.InRange(single.Outcomes[0].EncodedBytes - half.Outcomes[0].EncodedBytes, 8 * 64 * 2 - 64, 8 * 64 * 2); // less the Cast
        var folded = FoldedWeight(halfModel, "matmul");
        Assert.All(folded, v => Assert.Equal(v, (float)(Half)v));
        Assert.InRange(Rms(weights, folded), 0, 1.01 * Rms(weights, FoldedWeight(singleModel, "matmul")) + 1e-4);
    }

    [Fact]
    public void Only_the_named_nodes_are_palettized_and_a_shared_weight_takes_the_widest_width()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 32)
            .Initializer("w", Values(32 * 32, 7), 32, 32)
            .Initializer("v", Values(32 * 32, 8), 32, 32)
            .Node("MatMul", ["x", "w"], ["h"], "first")
            .Node("MatMul", ["h", "w"], ["g"], "second")
            .Node("MatMul", ["g", "v"], ["y"], "third")
            .Output("y", DataType.Float, 1, 32)
            .Build();
        var pass = new WeightPalettization(new Dictionary<string, int> { ["first"] = 2, ["second"] = 5 });

        Assert.Equal(2, pass.Apply(model));

        var outcome = Assert.Single(pass.Outcomes);
        Assert.Equal(("w", 5, true), (outcome.Tensor, outcome.Bits, outcome.Applied));
        Assert.Equal(["first", "second"], outcome.Nodes);
        Assert.Contains(model.Graph.Initializer, t => t.Name == "v");
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name == "w");
    }

    [Fact]
    public void A_weight_whose_encoding_would_not_be_smaller_or_that_other_nodes_read_is_left_alone()
    {
        var small = MatMulModel(Values(16 * 16, 9), 16, 16);
        var tiny = new WeightPalettization(AllAt(["matmul"], 8), minElements: 1);
        Assert.Equal(0, tiny.Apply(small));
        Assert.False(tiny.Outcomes.Single().Applied);
        Assert.Contains(small.Graph.Initializer, t => t.Name == "w");

        var shared = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 64)
            .Initializer("w", Values(64 * 64, 10), 64, 64)
            .Node("MatMul", ["x", "w"], ["h"], "chosen")
            .Node("MatMul", ["h", "w"], ["y"], "other")
            .Output("y", DataType.Float, 1, 64)
            .Build();
        var pass = new WeightPalettization(AllAt(["chosen"], 4));
        Assert.Equal(0, pass.Apply(shared));
        Assert.False(pass.Outcomes.Single().Applied);
    }

    [Fact]
    public void Widths_outside_1_to_8_bits_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightPalettization(AllAt(["a"], 9)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightPalettization(AllAt(["a"], 0)));
    }

    [Fact]
    public void Eligible_nodes_are_the_weight_slots_large_enough()
    {
        Assert.Equal(["conv", "fc"], WeightPalettization.EligibleNodes(ConvGemmModel()));
        Assert.Equal(["fc"], WeightPalettization.EligibleNodes(ConvGemmModel(), minElements: 1000));
    }
}
