using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Quantization;

public class QuantizableWeightTests
{
    private static ModelProto Single(string op, long[] xShape, (string Name, long[] Shape)[] weights, string[] inputs, int outputs = 1, params (string, object)[] attributes)
    {
        var builder = new OnnxBuilder().Input("x", DataType.Float, xShape.Cast<object?>().ToArray());
        var seed = 1;
        foreach (var (name, shape) in weights) builder.Initializer(name, Values((int)shape.Aggregate(1L, (a, d) => a * d), seed++), shape);
        var outputNames = Enumerable.Range(0, outputs).Select(i => $"y{i}").ToArray();
        builder.Node(op, inputs, outputNames, "node", attributes);
        return builder.Output("y0", DataType.Float).Build();
    }

    private static List<(string Initializer, int Input, int Axis)> Slots(ModelProto model) =>
        QuantizableWeight.Find(new ModelView(model)).Select(w => (w.Initializer.Name, w.InputIndex, w.ChannelAxis)).ToList();

    [Fact]
    public void Convolutions_and_matrix_products_have_their_output_channel_axis()
    {
        Assert.Equal([("w", 1, 0)], Slots(Single("Conv", [1, 2, 5, 5], [("w", [4, 2, 3, 3])], ["x", "w"])));
        Assert.Equal([("w", 1, 1)], Slots(Single("ConvTranspose", [1, 2, 5, 5], [("w", [2, 3, 3, 3])], ["x", "w"])));
        Assert.Equal([("w", 1, 1)], Slots(Single("Gemm", [3, 6], [("w", [6, 4])], ["x", "w"])));
        Assert.Equal([("w", 1, 0)], Slots(Single("Gemm", [3, 6], [("w", [4, 6])], ["x", "w"], 1, ("transB", 1))));
        Assert.Equal([("w", 1, 1)], Slots(Single("MatMul", [3, 6], [("w", [6, 4])], ["x", "w"])));
        Assert.Equal([("w", 1, 2)], Slots(Single("MatMul", [2, 3, 6], [("w", [2, 6, 4])], ["x", "w"])));
    }

    [Theory]
    [InlineData("LSTM", 4)]
    [InlineData("GRU", 3)]
    [InlineData("RNN", 1)]
    public void Recurrent_weights_W_and_R_have_the_gates_axis(string op, int gates)
    {
        var model = Single(op, [2, 1, 3], [("w", [1, gates * 5, 3]), ("r", [1, gates * 5, 5])], ["x", "w", "r"], 2, ("hidden_size", 5));

        Assert.Equal([("w", 1, 1), ("r", 2, 1)], Slots(model));
    }

    [Fact]
    public void An_embedding_table_gets_one_scale_per_gathered_slice()
    {
        ModelProto Gather(long axis) => new OnnxBuilder()
            .Input("ids", DataType.Int64, 3)
            .Initializer("table", Values(40, 1), 10, 4)
            .Node("Gather", ["table", "ids"], ["y"], "gather", ("axis", axis))
            .Output("y", DataType.Float).Build();

        Assert.Equal([("table", 0, 0)], Slots(Gather(0)));
        Assert.Equal([("table", 0, 1)], Slots(Gather(-1)));
    }

    [Fact]
    public void A_node_of_constants_only_has_no_weight_slot()
    {
        var model = new OnnxBuilder()
            .Initializer("a", Values(6, 1), 2, 3).Initializer("b", Values(12, 2), 3, 4)
            .Node("MatMul", ["a", "b"], ["y"])
            .Output("y", DataType.Float, 2, 4).Build();

        Assert.Empty(Slots(model));
        Assert.Empty(QuantizableWeight.Find(model.Graph));
    }

    [Fact]
    public void Weights_an_if_branch_reads_from_outside_are_found_with_the_graph_holding_them()
    {
        var model = RecurrentIfModel();
        var view = new ModelView(model);

        var weights = QuantizableWeight.Find(view);

        Assert.Equal(
            [("lstm", "w_ih", 1, 0), ("lstm", "w_ih", 1, 0), ("lstm", "lstm.r", 2, 1), ("gru", "gru.w", 1, 1), ("gru", "gru.r", 2, 1)],
            weights.Select(w => (w.Node.Name, w.Initializer.Name, w.InputIndex, w.ChannelAxis)).ToList());
        // The LSTM's weights are the main graph's: they can be dequantized there, before the If node.
        Assert.All(weights.Take(3), w => Assert.Same(model.Graph, w.Owner!.Proto));
        Assert.All(weights.Take(3), w => Assert.Equal("branch", w.AnchorInOwner().Name));
        // The GRU's are the else branch's own.
        Assert.All(weights.Skip(3), w => Assert.Same(Branch(model, "else_branch"), w.Owner!.Proto));
        Assert.All(weights.Skip(3), w => Assert.Equal("gru", w.AnchorInOwner().Name));
    }

    [Fact]
    public void A_weight_laid_out_by_slice_concat_and_unsqueeze_is_traced_to_its_initializer()
    {
        var weights = QuantizableWeight.Find(new ModelView(RecurrentIfModel())).Where(w => w.Initializer.Name == "w_ih").ToList();

        // LSTM W [1, 32, 8] axis 1 ← Unsqueeze(axis 0) ← Concat(axis 0) ← Slice(axis 0) of w_ih [32, 8]: axis 0.
        Assert.Equal(["slice_first", "slice_second"], weights.Select(w => w.Read!.Node.Name).Order());
        Assert.All(weights, w => Assert.False(w.IsDirect));
        Assert.All(weights, w => Assert.Equal(0, w.ChannelAxis));
    }

    [Fact]
    public void A_transposed_weight_carries_its_channel_axis_through_the_permutation()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 3, 6)
            .Initializer("w", Values(24, 1), 4, 6)
            .Node("Transpose", ["w"], ["wt"], "transpose", ("perm", new[] { 1, 0 }))
            .Node("MatMul", ["x", "wt"], ["y"], "matmul")
            .Output("y", DataType.Float, 3, 4).Build();

        var weight = Assert.Single(QuantizableWeight.Find(new ModelView(model)));

        Assert.Equal(("matmul", "w", 0, "transpose"), (weight.Node.Name, weight.Initializer.Name, weight.ChannelAxis, weight.Read!.Node.Name));
    }

    [Fact]
    public void A_layout_whose_result_is_also_used_elsewhere_is_not_traced()
    {
        // Quantizing "w" would also change the graph output "wt".
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 3, 6)
            .Initializer("w", Values(24, 1), 4, 6)
            .Node("Transpose", ["w"], ["wt"], ("perm", new[] { 1, 0 }))
            .Node("MatMul", ["x", "wt"], ["y"])
            .Output("y", DataType.Float, 3, 4)
            .Output("wt", DataType.Float, 6, 4).Build();

        Assert.Empty(QuantizableWeight.Find(new ModelView(model)));
    }

    [Fact]
    public void A_reshaped_weight_is_not_traced()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 3, 6)
            .Initializer("w", Values(24, 1), 24)
            .Initializer("shape", Longs(6, 4))
            .Node("Reshape", ["w", "shape"], ["w2"])
            .Node("MatMul", ["x", "w2"], ["y"])
            .Output("y", DataType.Float, 3, 4).Build();

        Assert.Empty(QuantizableWeight.Find(new ModelView(model)));
    }

    [Fact]
    public void Find_of_a_graph_proto_sees_only_the_conv_gemm_and_matmul_weights_that_are_its_own_initializers()
    {
        var model = RecurrentIfModel();
        model.Graph.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([8, 8], Values(64, 3)), "m"));
        model.Graph.Node.Add(OnnxFactory.Node("MatMul", ["y", "m"], ["z"], "matmul"));
        var branchWithMatMul = Branch(model, "else_branch");
        branchWithMatMul.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([8, 8], Values(64, 4)), "n"));
        branchWithMatMul.Node.Add(OnnxFactory.Node("MatMul", ["e", "n"], ["e2"], "inner"));

        Assert.Equal(["m"], QuantizableWeight.Find(model.Graph).Select(w => w.Initializer.Name));
        Assert.Empty(QuantizableWeight.Find(Branch(model, "then_branch"))); // its weights are the main graph's
        Assert.Equal(["n"], QuantizableWeight.Find(branchWithMatMul).Select(w => w.Initializer.Name)); // not the GRU's
        var direct = QuantizableWeight.Find(model.Graph).Single();
        Assert.Null(direct.Owner);
        Assert.True(direct.IsDirect);
        Assert.Empty(QuantizableWeight.Find(Single("ConvTranspose", [1, 2, 5, 5], [("w", [2, 3, 3, 3])], ["x", "w"]).Graph));
    }

    [Fact]
    public void An_initializer_that_is_also_a_graph_input_is_not_a_constant_weight()
    {
        var model = Single("MatMul", [3, 6], [("w", [6, 4])], ["x", "w"]);
        model.Graph.Input.Add(OnnxFactory.TensorValueInfo("w", DataType.Float, 6L, 4L));

        Assert.Empty(Slots(model));
    }
}
