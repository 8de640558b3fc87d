using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class ConstantsToInitializersTests
{
    [Fact]
    public void Every_attribute_form_becomes_an_initializer_with_the_same_value()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2)
            .Node("Constant", [], ["k_tensor"], ("value", NdArray.Create<float>([2], [1f, 2f])))
            .Node("Constant", [], ["k_float"], ("value_float", 0.5f))
            .Node("Constant", [], ["k_floats"], ("value_floats", new[] { 3f, -4f }))
            .Node("Constant", [], ["k_ints"], ("value_ints", new long[] { 2, 1 }))
            .Node("Constant", [], ["k_int"], ("value_int", 3L))
            .Node("Add", ["x", "k_tensor"], ["a"])
            .Node("Mul", ["a", "k_float"], ["b"])
            .Node("Sub", ["b", "k_floats"], ["c"])
            .Node("Reshape", ["c", "k_ints"], ["y"])
            .Node("Cast", ["k_int"], ["k_cast"], ("to", (long)DataType.Float))
            .Node("Add", ["c", "k_cast"], ["z"])
            .Output("y", DataType.Float, 2, 1)
            .Output("z", DataType.Float, 2)
            .Build();

        var (rewritten, count) = Apply(new ConstantsToInitializers(), model);

        Assert.Equal(5, count);
        Assert.DoesNotContain("Constant", OpTypes(rewritten));
        Assert.Equal(["k_tensor", "k_float", "k_floats", "k_ints", "k_int"], rewritten.Graph.Initializer.Select(t => t.Name));
        ModelEquivalence.AssertSameOutputs(model, rewritten, new Dictionary<string, NdArray> { ["x"] = Random(1, 2) }, Tolerance.Exact);
    }

    [Fact]
    public void Constants_inside_an_if_branch_become_branch_initializers()
    {
        var thenBranch = new OnnxBuilder()
            .Node("Constant", [], ["k"], ("value_floats", new[] { 10f, 20f }))
            .Node("Add", ["x", "k"], ["t"])
            .Output("t", DataType.Float, 2).Graph();
        var elseBranch = new OnnxBuilder().Node("Neg", ["x"], ["e"]).Output("e", DataType.Float, 2).Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2).Input("cond", DataType.Bool)
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 2).Build();

        var (rewritten, count) = Apply(new ConstantsToInitializers(), model);

        Assert.Equal(1, count);
        var branch = rewritten.Graph.Node[0].Attribute.Single(a => a.Name == "then_branch").G;
        Assert.Equal("k", Assert.Single(branch.Initializer).Name);
        Assert.Equal(["Add"], branch.Node.Select(n => n.OpType));
        foreach (var cond in new[] { true, false })
            ModelEquivalence.AssertSameOutputs(model, rewritten,
                new Dictionary<string, NdArray> { ["x"] = Random(2, 2), ["cond"] = NdArray.Create<bool>([], [cond]) }, Tolerance.Exact);
    }

    [Fact]
    public void A_constant_that_is_a_graph_output_stays_a_node()
    {
        var model = new OnnxBuilder()
            .Node("Constant", [], ["y"], ("value_floats", new[] { 1f }))
            .Output("y", DataType.Float, 1).Build();

        var (rewritten, count) = Apply(new ConstantsToInitializers(), model);

        Assert.Equal(0, count);
        Assert.Equal(model, rewritten);
    }
}
