using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Pruning.PruningTestKit;

namespace ModelCompression.Core.Tests.Passes.Pruning;

/// <summary>
/// Channels whose weights and biases are exactly zero contribute nothing, so removing them must leave every output
/// unchanged (checked with ONNX Runtime) while the tensors really shrink. L1 importance ranks the zero channels lowest,
/// so the ratio removes exactly them: a wrong slice, offset or coupling shows up as a changed output.
/// </summary>
public class ChannelRemovalTests
{
    private static readonly long[] Same3x3 = [1, 1, 1, 1];

    private static Dictionary<string, NdArray> Input(params long[] shape) => new() { ["x"] = SyntheticInputs.Uniform(shape, 99) };

    [Fact]
    public void Zero_channels_of_a_convolution_go_with_the_matching_inputs_of_its_consumer()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 3, 8, 8)
            .Initializer("a.w", Weights(1, [8, 3, 3, 3], 0, 2, 6)).Initializer("a.b", Weights(2, [8], 0, 2, 6))
            .Initializer("b.w", Weights(3, [6, 8, 3, 3])).Initializer("b.b", Weights(4, [6]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a", ("pads", Same3x3))
            .Node("Relu", ["a"], ["r"], "relu")
            .Node("Conv", ["r", "b.w", "b.b"], ["y"], "conv_b", ("pads", Same3x3))
            .Output("y", DataType.Float, 1, 6, 8, 8).Build();
        model.Graph.ValueInfo.Add(OnnxFactory.TensorValueInfo("r", DataType.Float, 1, 8, 8, 8));

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25)), Input(1, 3, 8, 8), expectedRemoved: 2);

        Assert.Equal([6, 3, 3, 3], Dims(pruned, "a.w"));
        Assert.Equal([6], Dims(pruned, "a.b"));
        Assert.Equal([6, 6, 3, 3], Dims(pruned, "b.w"));
        Assert.Equal(6, pruned.Graph.ValueInfo.Single(v => v.Name == "r").Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal(model.Graph.Initializer.Count, pruned.Graph.Initializer.Count); // replaced in place, nothing left behind
        Assert.True(OnnxModelFile.SizeOf(pruned) < OnnxModelFile.SizeOf(model));
        // conv_a: 64 positions × 6 channels × 27; conv_b: 64 × 6 × (6·9), against 8 channels each before.
        Assert.Equal(64 * 8 * 27 + 64 * 6 * 72, MultiplyAccumulates(model, "x", 1, 3, 8, 8));
        Assert.Equal(64 * 6 * 27 + 64 * 6 * 54, MultiplyAccumulates(pruned, "x", 1, 3, 8, 8));
    }

    [Fact]
    public void Before_ir_4_sliced_initializers_are_declared_as_inputs_with_their_new_shapes()
    {
        var model = new OnnxBuilder(opset: 8).Input("x", DataType.Float, 1, 3, 5, 5)
            .Initializer("a.w", Weights(1, [8, 3, 3, 3], 0, 2, 6)).Initializer("a.b", Weights(2, [8], 0, 2, 6))
            .Initializer("b.w", Weights(3, [6, 8, 3, 3]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a", ("pads", Same3x3))
            .Node("Relu", ["a"], ["r"], "relu")
            .Node("Conv", ["r", "b.w"], ["y"], "conv_b", ("pads", Same3x3))
            .Output("y", DataType.Float, 1, 6, 5, 5).Build();
        model.IrVersion = 3;
        foreach (var t in model.Graph.Initializer)
            model.Graph.Input.Add(OnnxFactory.TensorValueInfo(t.Name, DataType.Float, t.Dims.Cast<object?>().ToArray()));

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25)), Input(1, 3, 5, 5), expectedRemoved: 2);

        // Sliced copies replace them (an initializer that is an input is never overwritten in place), declared as inputs.
        Assert.Equal(4, pruned.Graph.Input.Count);
        foreach (var t in pruned.Graph.Initializer)
            Assert.Equal(t.Dims, pruned.Graph.Input.Single(i => i.Name == t.Name).Type.TensorType.Shape.Dim.Select(d => d.DimValue));
        long[] Sliced(string name) => pruned.Graph.Initializer.Single(t => t.Name.StartsWith(name, StringComparison.Ordinal)).Dims.ToArray();
        Assert.Equal([6, 3, 3, 3], Sliced("a.w"));
        Assert.Equal([6], Sliced("a.b"));
        Assert.Equal([6, 6, 3, 3], Sliced("b.w"));
    }

    [Fact]
    public void A_residual_block_loses_the_same_channels_in_both_branches()
    {
        // r = Relu(conv_a(x)); s = conv_c(Relu(conv_b(r))); y = conv_d(r + s): conv_a and conv_c are one group.
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 4, 6, 6)
            .Initializer("a.w", Weights(1, [8, 4, 1, 1], 0, 1, 5)).Initializer("a.b", Weights(2, [8], 0, 1, 5))
            .Initializer("b.w", Weights(3, [5, 8, 3, 3])).Initializer("b.b", Weights(4, [5]))
            .Initializer("c.w", Weights(5, [8, 5, 3, 3], 0, 1, 5)).Initializer("c.b", Weights(6, [8], 0, 1, 5))
            .Initializer("d.w", Weights(7, [3, 8, 1, 1]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a")
            .Node("Relu", ["a"], ["r"], "relu_a")
            .Node("Conv", ["r", "b.w", "b.b"], ["b"], "conv_b", ("pads", Same3x3))
            .Node("Relu", ["b"], ["rb"], "relu_b")
            .Node("Conv", ["rb", "c.w", "c.b"], ["s"], "conv_c", ("pads", Same3x3))
            .Node("Add", ["r", "s"], ["sum"], "residual")
            .Node("Conv", ["sum", "d.w"], ["y"], "conv_d")
            .Output("y", DataType.Float, 1, 3, 6, 6).Build();

        var group = Group(model, "conv_a");
        Assert.True(group.IsPrunable, group.RefusedBecause);
        Assert.Equal(["conv_a", "conv_c"], group.Producers);
        Assert.Equal(["conv_a", "conv_b", "conv_c", "conv_d"], group.Layers);
        Assert.Equal(8, group.Channels);

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25)), Input(1, 4, 6, 6), expectedRemoved: 2);

        Assert.Equal(6, Dims(pruned, "a.w")[0]);
        Assert.Equal(6, Dims(pruned, "b.w")[1]);
        Assert.Equal(6, Dims(pruned, "c.w")[0]);
        Assert.Equal(6, Dims(pruned, "d.w")[1]);
    }

    [Fact]
    public void Concatenated_channels_are_removed_at_their_offsets()
    {
        // Concat(a [4], x [3], b [6]) → conv_c: a's channels at 0..3, the input's at 4..6 (kept), b's at 7..12.
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 3, 5, 5)
            .Initializer("a.w", Weights(1, [4, 3, 3, 3], 0, 1)).Initializer("a.b", Weights(2, [4], 0, 1))
            .Initializer("b.w", Weights(3, [6, 3, 1, 1], 0, 2, 4)).Initializer("b.b", Weights(4, [6], 0, 2, 4))
            .Initializer("c.w", Weights(5, [2, 13, 3, 3]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a", ("pads", Same3x3))
            .Node("Relu", ["a"], ["ra"], "relu_a")
            .Node("Conv", ["x", "b.w", "b.b"], ["b"], "conv_b")
            .Node("Concat", ["ra", "x", "b"], ["cat"], "concat", ("axis", 1))
            .Node("Conv", ["cat", "c.w"], ["y"], "conv_c", ("pads", Same3x3))
            .Output("y", DataType.Float, 1, 2, 5, 5).Build();

        Assert.All(ChannelPruning.Groups(model).Where(g => g.Id != "conv_c"), g => Assert.True(g.IsPrunable, g.RefusedBecause));

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25), ("conv_b", 0.34)), Input(1, 3, 5, 5), expectedRemoved: 3);

        Assert.Equal([2, 10, 3, 3], Dims(pruned, "c.w"));
    }

    [Fact]
    public void A_depthwise_convolution_loses_the_channels_of_its_input_and_its_group_count()
    {
        var model = new OnnxBuilder(opset: 10).Input("x", DataType.Float, 1, 4, 6, 6)
            .Initializer("a.w", Weights(1, [8, 4, 1, 1], 0, 0, 3)).Initializer("a.b", Weights(2, [8], 0, 0, 3))
            .Initializer("dw.w", Weights(3, [8, 1, 3, 3], 0, 0, 3)).Initializer("dw.b", Weights(4, [8], 0, 0, 3))
            .Initializer("b.w", Weights(5, [4, 8, 1, 1]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a")
            .Node("Clip", ["a"], ["ra"], "relu6", ("min", 0f), ("max", 6f))
            .Node("Conv", ["ra", "dw.w", "dw.b"], ["d"], "depthwise", ("group", 8L), ("pads", Same3x3))
            .Node("Relu", ["d"], ["rd"], "relu_d")
            .Node("Conv", ["rd", "b.w"], ["y"], "conv_b")
            .Output("y", DataType.Float, 1, 4, 6, 6).Build();

        Assert.Equal(["conv_a", "depthwise", "conv_b"], Group(model, "conv_a").Layers);

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25)), Input(1, 4, 6, 6), expectedRemoved: 2);

        Assert.Equal([6, 1, 3, 3], Dims(pruned, "dw.w"));
        Assert.Equal([6], Dims(pruned, "dw.b"));
        Assert.Equal(6, pruned.Graph.Node.Single(n => n.Name == "depthwise").Attribute.Single(a => a.Name == "group").I);
        Assert.Equal([4, 6, 1, 1], Dims(pruned, "b.w"));
    }

    [Fact]
    public void A_flattened_channel_takes_its_block_of_gemm_rows_with_it()
    {
        // conv_a [1,4,4,4] → MaxPool [1,4,2,2] → Flatten [1,16] → fc1 (transB, B [5,16]) → Relu → fc2 [1,3].
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 2, 6, 6)
            .Initializer("a.w", Weights(1, [4, 2, 3, 3], 0, 1)).Initializer("a.b", Weights(2, [4], 0, 1))
            .Initializer("fc1.w", Weights(3, [5, 16], 0, 3)).Initializer("fc1.b", Weights(4, [5], 0, 3))
            .Initializer("fc2.w", Weights(5, [5, 3])).Initializer("fc2.b", Weights(6, [3]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a")
            .Node("Relu", ["a"], ["ra"], "relu_a")
            .Node("MaxPool", ["ra"], ["p"], "pool", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
            .Node("Flatten", ["p"], ["f"], "flatten")
            .Node("Gemm", ["f", "fc1.w", "fc1.b"], ["h"], "fc1", ("transB", 1L))
            .Node("Relu", ["h"], ["rh"], "relu_h")
            .Node("Gemm", ["rh", "fc2.w", "fc2.b"], ["y"], "fc2")
            .Output("y", DataType.Float, 1, 3).Build();

        Assert.Equal(["conv_a", "fc1"], Group(model, "conv_a").Layers);
        Assert.Equal(4 * 2 * 9 + 4 + 5 * 16, Group(model, "conv_a").Parameters);

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25), ("fc1", 0.2)), Input(1, 2, 6, 6), expectedRemoved: 2);

        Assert.Equal([4, 12], Dims(pruned, "fc1.w")); // channel 1's 2×2 block of rows went, and output 3
        Assert.Equal([4], Dims(pruned, "fc1.b"));
        Assert.Equal([4, 3], Dims(pruned, "fc2.w"));
    }

    [Theory]
    [InlineData(new long[] { 1, 36 })]
    [InlineData(new long[] { -1, 36 })]
    [InlineData(new long[] { 0, -1 })]
    [InlineData(new long[] { 1, 4, 9 })]
    public void A_reshape_target_that_names_the_channel_count_is_rewritten(long[] target)
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 2, 3, 3)
            .Initializer("a.w", Weights(1, [4, 2, 1, 1], 0, 2)).Initializer("a.b", Weights(2, [4], 0, 2))
            .Initializer("shape", Ints(target))
            .Initializer("fc.w", Weights(3, [36, 3]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a")
            .Node("Reshape", ["a", "shape"], ["r"], "reshape")
            .Node(target.Length == 2 ? "Identity" : "Flatten", ["r"], ["f"], "to_matrix")
            .Node("MatMul", ["f", "fc.w"], ["y"], "fc")
            .Output("y", DataType.Float, 1, 3).Build();

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25)), Input(1, 2, 3, 3), expectedRemoved: 1);

        Assert.Equal([27, 3], Dims(pruned, "fc.w"));
        var expected = target.Select(v => v is 36 ? 27 : v is 4 ? 3 : v).ToArray();
        Assert.Equal(expected, TensorProtoConverter.ToNdArray(pruned.Graph.Initializer.Single(t => t.Name == "shape")).ToInt64s());
    }

    [Fact]
    public void A_batch_size_taken_with_shape_and_slice_lets_the_reshape_be_rewritten()
    {
        // The exporters' flatten: Reshape(p, Concat(Cast(Slice(Shape(p), 0, 1)), [C])) with p = GlobalAveragePool.
        var model = new OnnxBuilder().Input("x", DataType.Float, "N", 3, 6, 6)
            .Initializer("a.w", Weights(1, [8, 3, 3, 3], 0, 4, 7)).Initializer("a.b", Weights(2, [8], 0, 4, 7))
            .Initializer("start", Ints(0)).Initializer("end", Ints(1)).Initializer("channels", Ints(8))
            .Initializer("fc.w", Weights(3, [8, 2])).Initializer("fc.b", Weights(4, [2]))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a")
            .Node("Relu", ["a"], ["ra"], "relu")
            .Node("GlobalAveragePool", ["ra"], ["p"], "gap")
            .Node("Shape", ["p"], ["shape"], "shape")
            .Node("Slice", ["shape", "start", "end"], ["batch"], "batch")
            .Node("Cast", ["batch"], ["batch64"], "cast", ("to", (long)DataType.Int64))
            .Node("Concat", ["batch64", "channels"], ["target"], "target", ("axis", 0))
            .Node("Reshape", ["p", "target"], ["flat"], "reshape")
            .Node("Gemm", ["flat", "fc.w", "fc.b"], ["y"], "fc")
            .Output("y", DataType.Float, "N", 2).Build();
        Assert.Equal(["conv_a", "target", "fc"], Group(model, "conv_a").Nodes); // the Concat holds the constant to rewrite

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25)), Input(2, 3, 6, 6), expectedRemoved: 2);

        Assert.Equal([6], TensorProtoConverter.ToNdArray(pruned.Graph.Initializer.Single(t => t.Name == "channels")).ToInt64s());
        Assert.Equal([6, 2], Dims(pruned, "fc.w"));
    }

    [Fact]
    public void Batch_norm_per_channel_constants_and_a_squeeze_excite_block_follow_their_channels()
    {
        // t = Relu(BN(conv_a(x)) · m + k); s = HardSigmoid(excite(Relu(squeeze(GAP(t))))); y = conv_b(t · s).
        // conv_a and excite are one group (their channels meet in t · s); squeeze is a group of its own.
        long[] perChannel = [1, 8, 1, 1];
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 3, 5, 5)
            .Initializer("a.w", Weights(1, [8, 3, 3, 3], 0, 2, 6))
            .Initializer("bn.scale", Weights(2, [8], 0, 2, 6)).Initializer("bn.bias", Weights(3, [8], 0, 2, 6))
            .Initializer("bn.mean", Weights(4, [8])).Initializer("bn.var", SyntheticInputs.Uniform([8], 5, 0.5f, 1.5f))
            .Initializer("m", Weights(6, perChannel, 1)).Initializer("k", Weights(7, [8, 1, 1], 0, 2, 6))
            .Initializer("sq.w", Weights(8, [2, 8, 1, 1], 0, 1)).Initializer("sq.b", Weights(9, [2], 0, 1))
            .Initializer("ex.w", Weights(10, [8, 2, 1, 1], 0, 2, 6)).Initializer("ex.b", Weights(11, [8], 0, 2, 6))
            .Initializer("b.w", Weights(12, [3, 8, 1, 1]))
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a", ("pads", Same3x3))
            .Node("BatchNormalization", ["a", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["n"], "bn")
            .Node("Mul", ["n", "m"], ["nm"], "scale")
            .Node("Add", ["nm", "k"], ["nk"], "shift")
            .Node("Relu", ["nk"], ["t"], "relu")
            .Node("GlobalAveragePool", ["t"], ["g"], "gap")
            .Node("Conv", ["g", "sq.w", "sq.b"], ["q"], "squeeze")
            .Node("Relu", ["q"], ["rq"], "relu_q")
            .Node("Conv", ["rq", "ex.w", "ex.b"], ["e"], "excite")
            .Node("HardSigmoid", ["e"], ["s"], "gate")
            .Node("Mul", ["t", "s"], ["ts"], "attend")
            .Node("Conv", ["ts", "b.w"], ["y"], "conv_b")
            .Output("y", DataType.Float, 1, 3, 5, 5).Build();

        var group = Group(model, "conv_a");
        Assert.Equal(["conv_a", "excite"], group.Producers);
        Assert.Equal(["conv_a", "squeeze", "excite", "conv_b"], group.Layers);
        Assert.Equal(["conv_a", "bn", "scale", "shift", "squeeze", "excite", "conv_b"], group.Nodes);

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.25), ("squeeze", 0.5)), Input(1, 3, 5, 5), expectedRemoved: 3);

        foreach (var name in new[] { "bn.scale", "bn.bias", "bn.mean", "bn.var" }) Assert.Equal([6], Dims(pruned, name));
        Assert.Equal([1, 6, 1, 1], Dims(pruned, "m"));
        Assert.Equal([6, 1, 1], Dims(pruned, "k"));
        Assert.Equal([1, 6, 1, 1], Dims(pruned, "sq.w"));
        Assert.Equal([6, 1, 1, 1], Dims(pruned, "ex.w"));
        Assert.Equal([3, 6, 1, 1], Dims(pruned, "b.w"));
    }

    [Fact]
    public void Channels_follow_transpose_squeeze_and_unsqueeze_into_matmuls()
    {
        // conv_a → Transpose to NHWC → MatMul (a 1×1 conv written channels-last) → y1;
        // conv_a → GlobalAveragePool → Squeeze [N,C] → Unsqueeze [N,1,C] → MatMul → y2.
        // The consumers' rows of the zero channels are zero too: rows of 5 and 2 values vary too much in norm for a
        // zero filter alone to rank its channel lowest.
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 3, 4, 4)
            .Initializer("a.w", Weights(1, [6, 3, 3, 3], 0, 0, 4)).Initializer("a.b", Weights(2, [6], 0, 0, 4))
            .Initializer("p.w", Weights(3, [6, 5], 0, 0, 4)).Initializer("q.w", Weights(4, [6, 2], 0, 0, 4))
            .Initializer("hw", Ints(2, 3)).Initializer("one", Ints(1))
            .Node("Conv", ["x", "a.w", "a.b"], ["a"], "conv_a", ("pads", Same3x3))
            .Node("Relu", ["a"], ["ra"], "relu")
            .Node("Transpose", ["ra"], ["nhwc"], "nhwc", ("perm", new long[] { 0, 2, 3, 1 }))
            .Node("MatMul", ["nhwc", "p.w"], ["y1"], "pointwise")
            .Node("GlobalAveragePool", ["ra"], ["g"], "gap")
            .Node("Squeeze", ["g", "hw"], ["sq"], "squeeze")
            .Node("Unsqueeze", ["sq", "one"], ["un"], "unsqueeze")
            .Node("MatMul", ["un", "q.w"], ["y2"], "head")
            .Output("y1", DataType.Float, 1, 4, 4, 5).Output("y2", DataType.Float, 1, 1, 2).Build();

        Assert.Equal(["conv_a", "pointwise", "head"], Group(model, "conv_a").Layers);

        var pruned = PruneAndCompare(model, Prune(("conv_a", 0.34)), Input(1, 3, 4, 4), expectedRemoved: 2);

        Assert.Equal([4, 5], Dims(pruned, "p.w"));
        Assert.Equal([4, 2], Dims(pruned, "q.w"));
    }

    [Fact]
    public void Without_zero_channels_pruning_changes_outputs_but_the_model_stays_consistent()
    {
        // The same residual pattern with dense weights: the pruned model must still load and run with the new shapes.
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 4, 6, 6)
            .Initializer("a.w", Weights(1, [16, 4, 1, 1])).Initializer("c.w", Weights(2, [16, 16, 3, 3]))
            .Initializer("d.w", Weights(3, [3, 16, 1, 1]))
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a")
            .Node("Relu", ["a"], ["r"], "relu")
            .Node("Conv", ["r", "c.w"], ["c"], "conv_c", ("pads", Same3x3))
            .Node("Add", ["r", "c"], ["sum"], "residual")
            .Node("Conv", ["sum", "d.w"], ["y"], "conv_d")
            .Output("y", DataType.Float, 1, 3, 6, 6).Build();

        var pruned = model.Clone();
        Assert.Equal(8, new ChannelPruning(new Dictionary<string, double> { ["conv_a"] = 0.5 }, channelMultiple: 8).Apply(pruned));
        OnnxStructure.Validate(pruned, "pruned");
        var outputs = ModelEquivalence.Run(pruned, Input(1, 4, 6, 6));
        Assert.Equal([1, 3, 6, 6], outputs["y"].Shape.ToArray());
        Assert.Equal([8, 8, 3, 3], Dims(pruned, "c.w"));
    }
}
