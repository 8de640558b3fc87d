using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Pruning.PruningTestKit;

namespace ModelCompression.Core.Tests.Passes.Pruning;

/// <summary>What the dependency graph refuses, and why: anything it cannot prove safe keeps its channels.</summary>
public class ChannelGroupsTests
{
    /// <summary>x [1,3,4,4] → conv_a (4 channels) → "a", then <paramref name="tail"/>.</summary>
    private static ModelProto ConvThen(Func<OnnxBuilder, OnnxBuilder> tail, int opset = 17) =>
        tail(new OnnxBuilder(opset).Input("x", DataType.Float, 1, 3, 4, 4)
            .Initializer("a.w", Weights(1, [4, 3, 1, 1]))
            .Initializer("b.w", Weights(2, [2, 4, 1, 1]))
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a")).Build();

    // conv_b reads its input and writes y: a consumer that is always fine.
    private static OnnxBuilder ToConvB(OnnxBuilder b, string input) =>
        b.Node("Conv", [input, "b.w"], ["y"], "conv_b").Output("y", DataType.Float, 1, 2, 4, 4);

    public static TheoryData<string, string> Refusals => new()
    {
        { "graph-output", "'r' is a graph output" },
        { "custom-operator", "an operator of domain 'com.example'" },
        { "subgraph", "is read inside a subgraph of If 'branch'" },
        { "softmax-over-channels", "it normalizes across channels" },
        { "operand-from-graph-input", "operand 'bias' of Add 'add' has 4 positions on the channel axis and is not a constant" },
        { "grouped-convolution", "a grouped convolution (group = 2)" },
        { "lrn", "is read by LRN 'lrn': the pass does not know how it uses channels" },
        { "reshape-splitting-channels", "it splits the channel axis over several output axes" },
        { "reshape-with-unknown-sizes", "is read by Reshape 'reshape': its input's shape is not known" },
        { "flatten-of-unknown-sizes", "is read by Flatten 'flatten': it merges the channel axis with axes of unknown size" },
        { "channel-count-read", "has its channel count read by Gather 'count'" },
        { "maxpool-indices", "its indices output numbers positions across channels" },
        { "reduce-over-channels", "it reduces over the axis that carries channels" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Unsafe_uses_refuse_the_group_with_the_reason(string scenario, string reason)
    {
        var group = Group(Scenario(scenario), "conv_a");

        Assert.False(group.IsPrunable, $"{scenario} should be refused");
        Assert.Contains(reason, group.RefusedBecause);
        Assert.Throws<ArgumentException>(() => Prune(("conv_a", 0.5)).Apply(Scenario(scenario)));
    }

    private static ModelProto Scenario(string name) => name switch
    {
        "graph-output" => ConvThen(b => b.Node("Relu", ["a"], ["r"], "relu").Output("r", DataType.Float, 1, 4, 4, 4)),
        "custom-operator" => ConvThen(b => ToConvB(b.DomainNode("com.example", 1, "Mystery", ["a"], ["m"]), "m")),
        "subgraph" => ConvThen(b =>
        {
            var then = new OnnxBuilder().Node("Relu", ["a"], ["t"], "then_relu").Output("t", DataType.Float, 1, 4, 4, 4).Graph();
            var otherwise = new OnnxBuilder().Node("Neg", ["a"], ["e"], "else_neg").Output("e", DataType.Float, 1, 4, 4, 4).Graph();
            return b.Input("cond", DataType.Bool)
                .Node("If", ["cond"], ["y"], "branch", ("then_branch", then), ("else_branch", otherwise))
                .Output("y", DataType.Float, 1, 4, 4, 4);
        }),
        "softmax-over-channels" => ConvThen(b => ToConvB(b.Node("Softmax", ["a"], ["s"], "softmax", ("axis", 1L)), "s")),
        "operand-from-graph-input" => ConvThen(b => ToConvB(b.Input("bias", DataType.Float, 1, 4, 1, 1).Node("Add", ["a", "bias"], ["s"], "add"), "s")),
        "grouped-convolution" => ConvThen(b => b.Initializer("g.w", Weights(3, [2, 2, 1, 1]))
            .Node("Conv", ["a", "g.w"], ["y"], "grouped", ("group", 2L)).Output("y", DataType.Float, 1, 2, 4, 4)),
        "lrn" => ConvThen(b => ToConvB(b.Node("LRN", ["a"], ["l"], "lrn", ("size", 3L)), "l")),
        "reshape-splitting-channels" => ConvThen(b => b.Initializer("shape", Ints(1, 2, 2, 16))
            .Node("Reshape", ["a", "shape"], ["y"], "reshape").Output("y", DataType.Float, 1, 2, 2, 16)),
        "reshape-with-unknown-sizes" => new OnnxBuilder().Input("x", DataType.Float, 1, 3, "H", "W")
            .Initializer("a.w", Weights(1, [4, 3, 1, 1])).Initializer("shape", Ints(1, -1)).Initializer("fc.w", Weights(2, [64, 2]))
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a")
            .Node("Reshape", ["a", "shape"], ["f"], "reshape")
            .Node("MatMul", ["f", "fc.w"], ["y"], "fc").Output("y", DataType.Float, 1, 2).Build(),
        "flatten-of-unknown-sizes" => new OnnxBuilder().Input("x", DataType.Float, 1, 3, "H", "W")
            .Initializer("a.w", Weights(1, [4, 3, 1, 1])).Initializer("fc.w", Weights(2, [64, 2]))
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a")
            .Node("Flatten", ["a"], ["f"], "flatten")
            .Node("MatMul", ["f", "fc.w"], ["y"], "fc").Output("y", DataType.Float, 1, 2).Build(),
        "channel-count-read" => ConvThen(b => ToConvB(b, "a").Initializer("one", Ints(1))
            .Node("Shape", ["a"], ["shape"], "shape").Node("Gather", ["shape", "one"], ["c"], "count").Output("c", DataType.Int64, 1)),
        "maxpool-indices" => ConvThen(b => b.Node("MaxPool", ["a"], ["p", "i"], "pool", ("kernel_shape", new long[] { 2, 2 }))
            .Output("p", DataType.Float, 1, 4, 3, 3).Output("i", DataType.Int64, 1, 4, 3, 3)),
        "reduce-over-channels" => ConvThen(b => b.Node("ReduceMean", ["a"], ["m"], "mean", ("axes", new long[] { 1 }))
            .Output("m", DataType.Float, 1, 1, 4, 4), opset: 13),
        _ => throw new ArgumentException(name),
    };

    [Fact]
    public void Operators_that_work_along_other_axes_let_channels_through()
    {
        // Softmax over W, ReduceMean over H (kept), Shape read only for the batch size, Slice along W.
        var model = ConvThen(b => ToConvB(b
            .Initializer("zero", Ints(0)).Initializer("one", Ints(1)).Initializer("two", Ints(2)).Initializer("three", Ints(3))
            .Node("Softmax", ["a"], ["s"], "softmax", ("axis", -1L))
            .Node("ReduceMean", ["s"], ["m"], "mean", ("axes", new long[] { 2 }))
            .Node("Slice", ["m", "zero", "two", "three"], ["sl"], "slice")
            .Node("Shape", ["a"], ["shape"], "shape")
            .Node("Gather", ["shape", "zero"], ["n"], "batch").Output("n", DataType.Int64, 1)
            .Node("Relu", ["sl"], ["r"], "relu"), "r"), opset: 13);

        var group = Group(model, "conv_a");
        Assert.True(group.IsPrunable, group.RefusedBecause);
        Assert.Equal(["conv_a", "conv_b"], group.Layers);
    }

    [Fact]
    public void Groups_are_listed_in_graph_order_named_after_their_first_producer()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 3, 4, 4)
            .Initializer("a.w", Weights(1, [4, 3, 1, 1])).Initializer("b.w", Weights(2, [4, 3, 1, 1])).Initializer("c.w", Weights(3, [2, 4, 1, 1]))
            .Node("Conv", ["x", "b.w"], ["b"], "")
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a")
            .Node("Add", ["b", "a"], ["s"], "add")
            .Node("Conv", ["s", "c.w"], ["y"], "conv_c")
            .Output("y", DataType.Float, 1, 2, 4, 4).Build();

        var groups = ChannelPruning.Groups(model);

        Assert.Equal(["b", "conv_c"], groups.Select(g => g.Id)); // an unnamed producer is named by its output
        Assert.Equal(["", "conv_a"], groups[0].Producers);
        Assert.Equal(4, groups[0].Channels);
        Assert.Equal(4 * 3 + 4 * 3 + 2 * 4, groups[0].Parameters);
        Assert.Contains("graph output", groups[1].RefusedBecause);
    }

    [Fact]
    public void A_repeated_node_name_does_not_make_two_groups_share_an_id()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 3, 4, 4)
            .Initializer("a.w", Weights(1, [4, 3, 1, 1])).Initializer("b.w", Weights(2, [2, 4, 1, 1]))
            .Node("Conv", ["x", "a.w"], ["a"], "conv")
            .Node("Conv", ["a", "b.w"], ["y"], "conv")
            .Output("y", DataType.Float, 1, 2, 4, 4).Build();

        Assert.Equal(["conv", "y"], ChannelPruning.Groups(model).Select(g => g.Id));
    }
}
