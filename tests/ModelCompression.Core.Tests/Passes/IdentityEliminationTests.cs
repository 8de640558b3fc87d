using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class IdentityEliminationTests
{
    private static Dictionary<string, NdArray> X() => new() { ["x"] = Random(5, 2, 3) };

    [Fact]
    public void An_identity_between_nodes_is_removed()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2, 3)
            .Node("Relu", ["x"], ["r"]).Node("Identity", ["r"], ["i"]).Node("Neg", ["i"], ["y"])
            .Output("y", DataType.Float, 2, 3).Build();

        var (rewritten, count) = Apply(new IdentityElimination(), model);

        Assert.Equal(1, count);
        Assert.Equal(["Relu", "Neg"], OpTypes(rewritten));
        ModelEquivalence.AssertSameOutputs(model, rewritten, X(), Tolerance.Exact);
    }

    [Fact]
    public void An_identity_feeding_a_graph_output_renames_its_producer_instead()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2, 3)
            .Node("Relu", ["x"], ["r"]).Node("Identity", ["r"], ["y"]).Node("Neg", ["r"], ["z"])
            .Output("y", DataType.Float, 2, 3).Output("z", DataType.Float, 2, 3).Build();

        var (rewritten, count) = Apply(new IdentityElimination(), model);

        Assert.Equal(1, count);
        Assert.Equal(["Relu", "Neg"], OpTypes(rewritten));
        Assert.Equal("y", rewritten.Graph.Node[0].Output[0]);
        Assert.Equal("y", rewritten.Graph.Node[1].Input[0]);
        Assert.Equal(["y", "z"], rewritten.Graph.Output.Select(o => o.Name));
        ModelEquivalence.AssertSameOutputs(model, rewritten, X(), Tolerance.Exact);
    }

    [Fact]
    public void An_identity_from_a_graph_input_an_initializer_or_another_output_to_a_graph_output_stays()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2, 3)
            .Initializer("c", Random(1, 2, 3))
            .Node("Identity", ["x"], ["y_from_input"])
            .Node("Identity", ["c"], ["y_from_initializer"])
            .Node("Relu", ["x"], ["r"])
            .Node("Identity", ["r"], ["y_from_output"])
            .Output("y_from_input", DataType.Float, 2, 3).Output("y_from_initializer", DataType.Float, 2, 3)
            .Output("r", DataType.Float, 2, 3).Output("y_from_output", DataType.Float, 2, 3).Build();

        var (rewritten, count) = Apply(new IdentityElimination(), model);

        Assert.Equal(0, count);
        Assert.Equal(model, rewritten);
    }

    [Fact]
    public void An_identity_in_a_branch_reading_an_outer_value_is_removed()
    {
        var thenBranch = new OnnxBuilder().Node("Identity", ["x"], ["i"]).Node("Abs", ["i"], ["t"]).Output("t", DataType.Float, 2, 3).Graph();
        var elseBranch = new OnnxBuilder().Node("Neg", ["x"], ["e"]).Output("e", DataType.Float, 2, 3).Graph();
        var model = new OnnxBuilder().Input("x", DataType.Float, 2, 3).Input("cond", DataType.Bool)
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 2, 3).Build();

        var (rewritten, count) = Apply(new IdentityElimination(), model);

        Assert.Equal(1, count);
        Assert.Equal(["If", "Abs", "Neg"], OpTypes(rewritten));
        ModelEquivalence.AssertSameOutputs(model, rewritten,
            new Dictionary<string, NdArray> { ["x"] = Random(3, 2, 3), ["cond"] = NdArray.Create<bool>([], [true]) }, Tolerance.Exact);
    }

    [Theory]
    [InlineData(12, false, false, true)]  // ratio and training_mode inputs, training_mode = false
    [InlineData(13, true, false, false)]  // training_mode = true: random, stays
    [InlineData(10, false, false, true)]  // ratio attribute, mask output unused
    [InlineData(10, false, true, false)]  // mask output read: stays
    public void Dropout_is_removed_only_in_inference_mode_with_its_mask_unused(int opset, bool training, bool maskUsed, bool removed)
    {
        var builder = new OnnxBuilder(opset).Input("x", DataType.Float, 2, 3);
        string[] dropoutInputs = ["x"];
        if (opset >= 12)
        {
            builder.Initializer("ratio", [0.5f], []).Initializer("training", NdArray.Create<bool>([], [training]));
            dropoutInputs = ["x", "ratio", "training"];
        }
        builder.Node("Dropout", dropoutInputs, ["d", "mask"], opset < 12 ? [("ratio", 0.3f)] : []).Node("Relu", ["d"], ["y"]).Output("y", DataType.Float, 2, 3);
        if (maskUsed) builder.Output("mask", DataType.Bool, 2, 3);
        var model = builder.Build();

        var (rewritten, count) = Apply(new IdentityElimination(), model);

        Assert.Equal(removed ? 1 : 0, count);
        Assert.Equal(removed ? 0 : 1, Count(rewritten, "Dropout"));
        if (!training) ModelEquivalence.AssertSameOutputs(model, rewritten, X(), Tolerance.Exact);
    }
}
