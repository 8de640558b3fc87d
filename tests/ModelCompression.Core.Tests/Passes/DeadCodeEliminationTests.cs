using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class DeadCodeEliminationTests
{
    [Fact]
    public void Removes_dead_chains_unused_initializers_and_their_value_info()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2)
            .Initializer("unused", [1f, 2f], 2).Initializer("k", [3f, 4f], 2)
            .Node("Add", ["x", "k"], ["dead1"]).Node("Neg", ["dead1"], ["dead2"])
            .Node("Sigmoid", ["x"], ["y"])
            .Output("y", DataType.Float, 2).Build();
        model.Graph.ValueInfo.Add(OnnxFactory.TensorValueInfo("dead2", DataType.Float, 2));

        var (rewritten, count) = Apply(new DeadCodeElimination(), model);

        Assert.Equal(4, count); // two nodes, two initializers
        Assert.Equal(["Sigmoid"], OpTypes(rewritten));
        Assert.Empty(rewritten.Graph.Initializer);
        Assert.Empty(rewritten.Graph.ValueInfo);
        ModelEquivalence.AssertSameOutputs(model, rewritten, new Dictionary<string, NdArray> { ["x"] = Random(1, 2) }, Tolerance.Exact);
    }

    [Fact]
    public void An_initializer_read_only_inside_an_if_branch_is_kept_and_dead_branch_nodes_go()
    {
        var thenBranch = new OnnxBuilder()
            .Node("Add", ["x", "k"], ["t"])
            .Node("Neg", ["x"], ["dead_in_branch"])
            .Output("t", DataType.Float, 2).Graph();
        var elseBranch = new OnnxBuilder().Node("Mul", ["x", "only_dead_reader"], ["dead"]).Node("Abs", ["x"], ["e"]).Output("e", DataType.Float, 2).Graph();
        var model = new OnnxBuilder().Input("x", DataType.Float, 2).Input("cond", DataType.Bool)
            .Initializer("k", [3f, 4f], 2)
            .Initializer("only_dead_reader", [5f, 6f], 2)
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 2).Build();

        var (rewritten, count) = Apply(new DeadCodeElimination(), model);

        Assert.Equal(3, count); // two dead branch nodes, then the initializer only they read
        Assert.Equal("k", Assert.Single(rewritten.Graph.Initializer).Name);
        Assert.Equal(["If", "Add", "Abs"], OpTypes(rewritten));
        foreach (var cond in new[] { true, false })
            ModelEquivalence.AssertSameOutputs(model, rewritten,
                new Dictionary<string, NdArray> { ["x"] = Random(2, 2), ["cond"] = NdArray.Create<bool>([], [cond]) }, Tolerance.Exact);
    }

    [Fact]
    public void Graph_inputs_and_overridable_initializers_stay_even_when_unused()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2).Input("spare", DataType.Float, 2).Input("w", DataType.Float, 2)
            .Initializer("w", [1f, 2f], 2)
            .Node("Relu", ["x"], ["y"]).Output("y", DataType.Float, 2).Build();

        var (rewritten, count) = Apply(new DeadCodeElimination(), model);

        Assert.Equal(0, count);
        Assert.Equal(model, rewritten);
    }
}
