using Google.Protobuf;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class ValueNameCompactionTests
{
    private static ModelProto Mlp() => new OnnxBuilder().Input("image_pixels", DataType.Float, 1, 6)
        .Initializer("/encoder/layer.0/weight", Random(1, 6, 4)).Initializer("/encoder/layer.0/bias", Random(2, 4))
        .Node("Gemm", ["image_pixels", "/encoder/layer.0/weight", "/encoder/layer.0/bias"], ["/encoder/layer.0/Gemm_output_0"], "/encoder/layer.0/Gemm")
        .Node("Relu", ["/encoder/layer.0/Gemm_output_0"], ["/encoder/Relu_output_0"], "")
        .Node("Neg", ["/encoder/Relu_output_0"], ["class_scores"], "/head/Neg")
        .Output("class_scores", DataType.Float, 1, 4).Build();

    [Fact]
    public void Inner_values_get_short_names_and_the_interface_and_node_names_stay()
    {
        var model = Mlp();

        var (rewritten, count) = Apply(new ValueNameCompaction(), model);

        Assert.Equal(4, count);
        var graph = rewritten.Graph;
        Assert.Equal(["image_pixels"], graph.Input.Select(i => i.Name));
        Assert.Equal(["class_scores"], graph.Output.Select(o => o.Name));
        Assert.Equal(["/encoder/layer.0/Gemm", "", "/head/Neg"], graph.Node.Select(n => n.Name));
        Assert.All(graph.Initializer, t => Assert.Single(t.Name));
        Assert.Equal(graph.Initializer.Select(t => t.Name), graph.Node[0].Input.Skip(1));
        Assert.Equal(graph.Node[0].Output, graph.Node[1].Input);
        Assert.Equal(graph.Node[1].Output, graph.Node[2].Input);
        Assert.False(graph.Node[1].HasName);
        Assert.True(OnnxModelFile.SizeOf(rewritten) < OnnxModelFile.SizeOf(model) - 100);
        ModelEquivalence.AssertSameOutputs(model, rewritten, new Dictionary<string, NdArray> { ["image_pixels"] = Random(3, 1, 6) }, Tolerance.Exact);
    }

    [Fact]
    public void Nodes_computing_only_from_constants_lose_their_names_and_the_nodes_that_run_keep_theirs()
    {
        var halves = NdArray.Create<Half>([6, 4], Enumerable.Range(0, 24).Select(i => (Half)(i / 24f)).ToArray());
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 6).Input("fed_scale", DataType.Float, 1)
            .Initializer("w.fp16", halves).Initializer("fed_scale", NdArray.Create<float>([1], [2f]))
            .Node("Cast", ["w.fp16"], ["w.float"], "w.cast", ("to", (int)DataType.Float))
            .Node("Mul", ["w.float", "fed_scale"], ["w.scaled"], "w.scale")
            .Node("MatMul", ["x", "w.scaled"], ["y"], "layer")
            .Output("y", DataType.Float, 1, 4).Build();

        var (rewritten, _) = Apply(new ValueNameCompaction(), model);

        Assert.Equal([false, true, true], rewritten.Graph.Node.Select(n => n.HasName));
        Assert.Equal(["w.scale", "layer"], rewritten.Graph.Node.Skip(1).Select(n => n.Name));
        ModelEquivalence.AssertSameOutputs(model, rewritten,
            new Dictionary<string, NdArray> { ["x"] = Random(8, 1, 6), ["fed_scale"] = NdArray.Create<float>([1], [3f]) }, Tolerance.Exact);
    }

    [Fact]
    public void A_generated_name_never_takes_an_input_or_output_name()
    {
        var model = new OnnxBuilder().Input("0", DataType.Float, 2, 3).Input("2", DataType.Float, 2, 3)
            .Node("Add", ["0", "2"], ["sum"]).Node("Relu", ["sum"], ["relu"]).Node("Neg", ["relu"], ["1"])
            .Output("1", DataType.Float, 2, 3).Output("relu", DataType.Float, 2, 3).Build();

        var (rewritten, count) = Apply(new ValueNameCompaction(), model);

        Assert.Equal(1, count);
        Assert.Equal("3", rewritten.Graph.Node[0].Output[0]);
        Assert.Equal(["1", "relu"], rewritten.Graph.Output.Select(o => o.Name));
        ModelEquivalence.AssertSameOutputs(model, rewritten,
            new Dictionary<string, NdArray> { ["0"] = Random(4, 2, 3), ["2"] = Random(5, 2, 3) }, Tolerance.Exact);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Branches_reading_outer_values_keep_reading_them(bool condition)
    {
        var thenBranch = new OnnxBuilder().Node("Abs", ["outer_scaled"], ["then_abs"]).Node("Add", ["then_abs", "outer_weight"], ["then_out"])
            .Output("then_out", DataType.Float, 2, 3).Graph();
        var elseBranch = new OnnxBuilder().Node("Neg", ["outer_scaled"], ["else_out"]).Output("else_out", DataType.Float, 2, 3).Graph();
        var model = new OnnxBuilder().Input("x", DataType.Float, 2, 3).Input("cond", DataType.Bool)
            .Initializer("outer_weight", Random(6, 2, 3))
            .Node("Mul", ["x", "outer_weight"], ["outer_scaled"])
            .Node("If", ["cond"], ["branch_out"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Node("Relu", ["branch_out"], ["y"])
            .Output("y", DataType.Float, 2, 3).Build();

        var (rewritten, count) = Apply(new ValueNameCompaction(), model);

        Assert.Equal(6, count);
        Assert.All(OnnxWalk.Graphs(rewritten).SelectMany(g => g.Node).SelectMany(n => n.Input.Concat(n.Output)).Where(n => n is not ("x" or "cond" or "y")),
            name => Assert.Single(name));
        ModelEquivalence.AssertSameOutputs(model, rewritten,
            new Dictionary<string, NdArray> { ["x"] = Random(7, 2, 3), ["cond"] = NdArray.Create<bool>([], [condition]) }, Tolerance.Exact);
    }

    [Fact]
    public void The_same_model_gets_the_same_names()
    {
        Assert.Equal(ValueNameCompaction.Compacted(Mlp()).ToByteArray(), ValueNameCompaction.Compacted(Mlp()).ToByteArray());
    }
}
