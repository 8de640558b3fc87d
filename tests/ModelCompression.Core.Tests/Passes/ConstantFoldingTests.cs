using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class ConstantFoldingTests
{
    private static Dictionary<string, NdArray> X(params long[] shape) => new() { ["x"] = Random(7, shape) };

    [Fact]
    public void A_chain_of_constant_nodes_folds_in_one_run()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 2)
            .Initializer("w", Random(1, 3, 2))
            .Initializer("two", [2f], 1)
            .Initializer("axes", Ints(1))
            .Node("Transpose", ["w"], ["wt"])
            .Node("Mul", ["wt", "two"], ["w2"])
            .Node("Shape", ["w2"], ["s"])
            .Node("Cast", ["s"], ["sf"], ("to", (long)DataType.Float))
            .Node("ReduceSum", ["w", "axes"], ["b"], ("keepdims", 0L))
            .Node("Add", ["x", "sf"], ["xs"])
            .Node("MatMul", ["xs", "w2"], ["m"])
            .Node("Add", ["m", "b"], ["y"])
            .Output("y", DataType.Float, 1, 3).Build();

        var (rewritten, count) = Apply(new ConstantFolding(), model);

        Assert.Equal(5, count); // Transpose, Mul, Shape, Cast, ReduceSum
        Assert.Equal(["Add", "MatMul", "Add"], OpTypes(rewritten));
        // Not bit-exact: once its weight is an initializer, ONNX Runtime pre-packs the MatMul and sums in another order.
        ModelEquivalence.AssertSameOutputs(model, rewritten, X(1, 2));
    }

    [Fact]
    public void A_dequantized_int8_weight_is_never_folded()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 4)
            .Initializer("q", NdArray.Create<sbyte>([4], [-3, 0, 5, 127]))
            .Initializer("scale", [0.1f], [])
            .Initializer("zero", NdArray.Create<sbyte>([], [(sbyte)1]))
            .Node("DequantizeLinear", ["q", "scale", "zero"], ["w"])
            .Node("Add", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 4).Build();

        Assert.True(ConstantFolding.IsCompressedWeight(new ModelView(model).Main, model.Graph.Node[0]));
        var (rewritten, count) = Apply(new ConstantFolding(), model);

        Assert.Equal(0, count);
        Assert.Equal(model, rewritten);
    }

    [Fact]
    public void A_fold_that_would_grow_the_file_is_skipped_and_a_small_one_is_made()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 100, 100)
            .Initializer("big_shape", Ints(100, 100))
            .Initializer("small_shape", Ints(1, 100))
            .Node("ConstantOfShape", ["big_shape"], ["big"], ("value", NdArray.Create<float>([1], [0.5f])))
            .Node("ConstantOfShape", ["small_shape"], ["small"], ("value", NdArray.Create<float>([1], [0.25f])))
            .Node("Add", ["x", "big"], ["a"])
            .Node("Add", ["a", "small"], ["y"])
            .Output("y", DataType.Float, 100, 100).Build();

        var (rewritten, count) = Apply(new ConstantFolding(), model);

        Assert.Equal(1, count); // 400 B from 16 B is within the allowance; 40 KB from 16 B is not
        Assert.Equal(["ConstantOfShape", "Add", "Add"], OpTypes(rewritten));
        Assert.Contains(rewritten.Graph.Initializer, t => t.Name == "small");
        ModelEquivalence.AssertSameOutputs(model, rewritten, X(100, 100), Tolerance.Exact);
    }

    [Fact]
    public void Random_operators_are_not_folded()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 3)
            .Initializer("w", Random(1, 3))
            .Node("RandomUniformLike", ["w"], ["r"])
            .Node("Add", ["x", "r"], ["y"])
            .Output("y", DataType.Float, 3).Build();

        Assert.Equal(0, Apply(new ConstantFolding(), model).Rewrites);
    }

    [Fact]
    public void A_node_holding_subgraphs_is_not_folded_even_with_constant_inputs()
    {
        var thenBranch = new OnnxBuilder().Node("Neg", ["x"], ["t"]).Output("t", DataType.Float, 2).Graph();
        var elseBranch = new OnnxBuilder().Node("Abs", ["x"], ["e"]).Output("e", DataType.Float, 2).Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2)
            .Initializer("cond", NdArray.Create<bool>([], [true]))
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 2).Build();

        Assert.Equal(0, Apply(new ConstantFolding(), model).Rewrites);
    }

    [Fact]
    public void A_node_inside_an_if_branch_folds_from_outer_constants()
    {
        var thenBranch = new OnnxBuilder()
            .Node("Mul", ["c", "c"], ["cc"])
            .Node("Add", ["x", "cc"], ["t"])
            .Output("t", DataType.Float, 2).Graph();
        var elseBranch = new OnnxBuilder().Node("Sub", ["x", "c"], ["e"]).Output("e", DataType.Float, 2).Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2).Input("cond", DataType.Bool)
            .Initializer("c", [3f, -1.5f], 2)
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 2).Build();

        var (rewritten, count) = Apply(new ConstantFolding(), model);

        Assert.Equal(1, count);
        var branch = rewritten.Graph.Node[0].Attribute.Single(a => a.Name == "then_branch").G;
        Assert.Equal(new[] { 9f, 2.25f }, TensorProtoConverter.ToNdArray(Assert.Single(branch.Initializer)).ToFloats());
        foreach (var cond in new[] { true, false })
            ModelEquivalence.AssertSameOutputs(model, rewritten,
                new Dictionary<string, NdArray> { ["x"] = Random(2, 2), ["cond"] = NdArray.Create<bool>([], [cond]) }, Tolerance.Exact);
    }

    [Fact]
    public void Graph_outputs_and_overridable_initializers_are_not_folded()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2)
            .Input("w", DataType.Float, 2) // an initializer that is also an input: callers may override it
            .Initializer("w", [1f, 2f], 2)
            .Initializer("c", [3f, 4f], 2)
            .Node("Neg", ["w"], ["nw"])
            .Node("Add", ["x", "nw"], ["a"])
            .Node("Abs", ["c"], ["y"])
            .Output("y", DataType.Float, 2)
            .Output("a", DataType.Float, 2).Build();

        Assert.Equal(0, Apply(new ConstantFolding(), model).Rewrites);
    }
}
