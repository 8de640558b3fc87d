using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class BatchNormFoldingTests
{
    private static void AssertFolded(ModelProto model, Dictionary<string, NdArray> inputs, string producer)
    {
        var (rewritten, count) = Apply(new BatchNormFolding(), model);

        Assert.Equal(1, count);
        Assert.Equal(0, Count(rewritten, "BatchNormalization"));
        Assert.Equal(1, Count(rewritten, producer));
        Assert.Equal(model.Graph.Output.Select(o => o.Name), rewritten.Graph.Output.Select(o => o.Name));
        ModelEquivalence.AssertSameOutputs(model, rewritten, inputs);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(1, false)]
    [InlineData(2, true)]
    public void Folds_into_conv(long group, bool withBias)
    {
        var builder = new OnnxBuilder().Input("x", DataType.Float, 2, 4, 7, 7)
            .Initializer("w", Random(1, 6, 4 / group, 3, 3))
            .BatchNormParameters("bn", 6, seed: 10);
        if (withBias) builder.Initializer("b", Random(2, 6));
        var model = builder
            .Node("Conv", withBias ? ["x", "w", "b"] : ["x", "w"], ["c"], ("group", group), ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("BatchNormalization", BatchNormInputs("c", "bn"), ["y"], ("epsilon", 1e-3f))
            .Output("y", DataType.Float, 2, 6, 7, 7).Build();

        AssertFolded(model, new() { ["x"] = Random(3, 2, 4, 7, 7) }, "Conv");
        var conv = Apply(new BatchNormFolding(), model).Rewritten.Graph.Node.Single();
        Assert.Equal(3, conv.Input.Count); // a bias was created when absent
    }

    [Fact]
    public void Folds_into_grouped_conv_transpose()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 4, 5, 5)
            .Initializer("w", Random(1, 4, 3, 3, 3)) // [C_in, M/group, k, k] with group 2: M = 6
            .BatchNormParameters("bn", 6, seed: 20)
            .Node("ConvTranspose", ["x", "w"], ["c"], ("group", 2L), ("strides", new long[] { 2, 2 }))
            .Node("BatchNormalization", BatchNormInputs("c", "bn"), ["y"])
            .Output("y", DataType.Float, 1, 6, 11, 11).Build();

        AssertFolded(model, new() { ["x"] = Random(3, 1, 4, 5, 5) }, "ConvTranspose");
    }

    [Theory]
    [InlineData(false, "vector")]
    [InlineData(true, "vector")]
    [InlineData(true, "none")]
    [InlineData(false, "matrix")]
    public void Folds_into_gemm(bool transB, string bias)
    {
        var builder = new OnnxBuilder().Input("a", DataType.Float, 3, 4)
            .Initializer("b", transB ? Random(1, 5, 4) : Random(1, 4, 5))
            .BatchNormParameters("bn", 5, seed: 30);
        string[] inputs = ["a", "b"];
        if (bias == "vector") { builder.Initializer("c", Random(2, 5)); inputs = ["a", "b", "c"]; }
        if (bias == "matrix") { builder.Initializer("c", Random(2, 3, 5)); inputs = ["a", "b", "c"]; }
        var model = builder
            .Node("Gemm", inputs, ["g"], ("transB", transB ? 1L : 0L), ("alpha", 1.5f), ("beta", 0.5f))
            .Node("BatchNormalization", BatchNormInputs("g", "bn"), ["y"])
            .Output("y", DataType.Float, 3, 5).Build();

        AssertFolded(model, new() { ["a"] = Random(3, 3, 4) }, "Gemm");
    }

    [Fact]
    public void Folds_into_a_rank_2_matmul_as_an_add_that_then_fuses_into_gemm()
    {
        var model = new OnnxBuilder().Input("a", DataType.Float, "N", 4)
            .Initializer("b", Random(1, 4, 5))
            .BatchNormParameters("bn", 5, seed: 40)
            .Node("MatMul", ["a", "b"], ["m"])
            .Node("BatchNormalization", BatchNormInputs("m", "bn"), ["y"])
            .Output("y", DataType.Float, "N", 5).Build();
        var inputs = new Dictionary<string, NdArray> { ["a"] = Random(3, 3, 4) };

        var (folded, count) = Apply(new BatchNormFolding(), model);
        Assert.Equal(1, count);
        Assert.Equal(["MatMul", "Add"], OpTypes(folded));
        ModelEquivalence.AssertSameOutputs(model, folded, inputs);

        var (fused, _) = Apply(new MatMulAddToGemm(), folded);
        Assert.Equal(["Gemm"], OpTypes(fused));
        ModelEquivalence.AssertSameOutputs(model, fused, inputs);
    }

    [Fact]
    public void Does_not_fold_when_the_conv_output_has_another_reader()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 2, 4, 4)
            .Initializer("w", Random(1, 3, 2, 1, 1))
            .BatchNormParameters("bn", 3, seed: 50)
            .Node("Conv", ["x", "w"], ["c"])
            .Node("BatchNormalization", BatchNormInputs("c", "bn"), ["y"])
            .Node("Relu", ["c"], ["z"])
            .Output("y", DataType.Float, 1, 3, 4, 4).Output("z", DataType.Float, 1, 3, 4, 4).Build();

        Assert.Equal(0, Apply(new BatchNormFolding(), model).Rewrites);
    }

    [Fact]
    public void Does_not_fold_into_a_matmul_with_a_rank_3_input()
    {
        var model = new OnnxBuilder().Input("a", DataType.Float, 2, 5, 4)
            .Initializer("b", Random(1, 4, 5))
            .BatchNormParameters("bn", 2, seed: 60)
            .Node("MatMul", ["a", "b"], ["m"])
            .Node("BatchNormalization", BatchNormInputs("m", "bn"), ["y"]) // channels on axis 1 (size 2), not MatMul's columns
            .Output("y", DataType.Float, 2, 5, 5).Build();

        Assert.Equal(0, Apply(new BatchNormFolding(), model).Rewrites);
    }

    [Fact]
    public void Does_not_fold_non_constant_parameters_or_weights_or_training_mode()
    {
        ModelProto Model(bool meanIsInput, bool weightIsInput, bool training)
        {
            var builder = new OnnxBuilder(15).Input("x", DataType.Float, 1, 2, 4, 4)
                .Initializer("w", Random(1, 3, 2, 1, 1)).BatchNormParameters("bn", 3, seed: 70);
            if (meanIsInput) builder.Input("bn.mean", DataType.Float, 3);
            if (weightIsInput) builder.Input("w", DataType.Float, 3, 2, 1, 1);
            return builder.Node("Conv", ["x", "w"], ["c"])
                .Node("BatchNormalization", BatchNormInputs("c", "bn"), ["y"], ("training_mode", training ? 1L : 0L))
                .Output("y", DataType.Float, 1, 3, 4, 4).Build();
        }

        Assert.Equal(1, Apply(new BatchNormFolding(), Model(false, false, false)).Rewrites); // the control case folds
        Assert.Equal(0, Apply(new BatchNormFolding(), Model(true, false, false)).Rewrites);
        Assert.Equal(0, Apply(new BatchNormFolding(), Model(false, true, false)).Rewrites);
        Assert.Equal(0, Apply(new BatchNormFolding(), Model(false, false, true)).Rewrites);
    }

    [Fact]
    public void A_weight_shared_by_two_convs_is_copied_not_changed()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 2, 4, 4)
            .Initializer("w", Random(1, 3, 2, 1, 1))
            .BatchNormParameters("bn", 3, seed: 80)
            .Node("Conv", ["x", "w"], ["c1"])
            .Node("BatchNormalization", BatchNormInputs("c1", "bn"), ["y"])
            .Node("Conv", ["x", "w"], ["z"])
            .Output("y", DataType.Float, 1, 3, 4, 4).Output("z", DataType.Float, 1, 3, 4, 4).Build();

        var (rewritten, count) = Apply(new BatchNormFolding(), model);

        Assert.Equal(1, count);
        Assert.Equal("w", rewritten.Graph.Node[1].Input[1]);
        Assert.NotEqual("w", rewritten.Graph.Node[0].Input[1]);
        ModelEquivalence.AssertSameOutputs(model, rewritten, new Dictionary<string, NdArray> { ["x"] = Random(3, 1, 2, 4, 4) });
    }
}
