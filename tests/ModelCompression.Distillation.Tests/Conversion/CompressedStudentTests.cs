using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Distillation.Tests.Conversion;

/// <summary>
/// The students distillation actually gets: graphs after our structural passes (channel pruning, low-rank factors) and
/// with zeros where weights were pruned. They convert with every weight trained and match ONNX Runtime.
/// </summary>
public sealed class CompressedStudentTests
{
    private static ModelProto ConvNet() =>
        new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", 3, 8, 8)
            .Initializer("conv_a.w", SyntheticInputs.Uniform([8, 3, 3, 3], 1)).Initializer("conv_a.b", SyntheticInputs.Uniform([8], 2))
            .Initializer("conv_b.w", SyntheticInputs.Uniform([8, 8, 3, 3], 3)).Initializer("conv_b.b", SyntheticInputs.Uniform([8], 4))
            .Initializer("fc.w", SyntheticInputs.Uniform([10, 32 * 4 * 4], 5)).Initializer("fc.b", SyntheticInputs.Uniform([10], 6))
            .Node("Conv", ["x", "conv_a.w", "conv_a.b"], ["a"], "conv_a", ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("Relu", ["a"], ["ra"], "relu_a")
            .Node("Conv", ["ra", "conv_b.w", "conv_b.b"], ["b"], "conv_b", ("pads", new long[] { 1, 1, 1, 1 }))
            .Initializer("conv_c.w", SyntheticInputs.Uniform([32, 8, 1, 1], 7))
            .Node("Relu", ["b"], ["rb0"], "relu_b")
            .Node("Conv", ["rb0", "conv_c.w"], ["rb"], "conv_c")
            .Node("MaxPool", ["rb"], ["p"], "pool", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
            .Node("Flatten", ["p"], ["f"], "flatten")
            .Node("Gemm", ["f", "fc.w", "fc.b"], ["y"], "fc", ("transB", 1L))
            .Output("y", DataType.Float, "N", 10)
            .Build();

    private static readonly Dictionary<string, NdArray> Inputs = new() { ["x"] = SyntheticInputs.Uniform([2, 3, 8, 8], 9) };

    private static string[] FloatInitializers(ModelProto model) =>
        model.Graph.Initializer.Where(i => i.DataType == (int)DataType.Float).Select(i => i.Name).ToArray();

    [Fact]
    public void A_channel_pruned_graph_converts_and_matches()
    {
        var model = ConvNet();
        Assert.True(ChannelPruning.Uniform(model, 0.5, channelMultiple: 1).Apply(model) > 0);

        StudentRuns.AssertMatchesOnnxRuntime(model, Inputs, FloatInitializers(model));
    }

    [Fact]
    public void Low_rank_factors_of_conv_gemm_and_matmul_layers_convert_and_match()
    {
        var model = ConvNet();
        var ranks = LowRankFactorization.EligibleNodes(model).ToDictionary(l => l.Node, _ => 2);
        Assert.Equal(["conv_c", "fc"], ranks.Keys.Order());
        Assert.Equal(2, new LowRankFactorization(ranks).Apply(model));
        var mlp = TestModels.Mlp(32, 48, 16, seed: 2);
        Assert.Equal(2, new LowRankFactorization(new Dictionary<string, int> { ["layer_a"] = 2, ["layer_b"] = 2 }).Apply(mlp));

        StudentRuns.AssertMatchesOnnxRuntime(model, Inputs, FloatInitializers(model));
        StudentRuns.AssertMatchesOnnxRuntime(mlp, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([3, 32], 4) }, FloatInitializers(mlp));
    }

    [Fact]
    public void Zeros_where_weights_were_pruned_stay_ordinary_trainable_values()
    {
        // The student of a sparsity step carries its float weights with zeros in place (the encoding comes after training).
        var model = ConvNet();
        var fc = model.Graph.Initializer.Single(i => i.Name == "fc.w");
        var values = TensorProtoConverter.ToNdArray(fc).ToFloats();
        for (var i = 0; i < values.Length; i += 2) values[i] = 0f;
        model.Graph.Initializer[model.Graph.Initializer.IndexOf(fc)] = TensorProtoConverter.ToTensorProto(NdArray.Create<float>([10, 512], values), "fc.w");

        using var student = StudentRuns.Convert(model, "fc.w");
        StudentRuns.AssertMatchesOnnxRuntime(student, model, Inputs);
        Assert.Equal(values, student.Parameters["fc.w"].data<float>().ToArray());
    }
}
