using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Quantization;

public class Int8WeightQuantizationTests
{
    private static ModelProto ConvGemmModel(int opset = 13, bool transB = true) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("conv.w", Values(32 * 3 * 3 * 3, 1), 32, 3, 3, 3)
        .Initializer("conv.b", Values(32, 2), 32)
        .Initializer("fc.w", Values(64 * 32 * 9, 3), transB ? [64, 32 * 9] : [32 * 9, 64])
        .Initializer("fc.b", Values(64, 4), 64)
        .Node("Conv", ["x", "conv.w", "conv.b"], ["c"], ("kernel_shape", new[] { 3, 3 }))
        .Node("Relu", ["c"], ["r"])
        .Node("MaxPool", ["r"], ["p"], ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }))
        .Node("Flatten", ["p"], ["f"])
        .Node("Gemm", ["f", "fc.w", "fc.b"], ["y"], ("transB", transB ? 1 : 0))
        .Output("y", DataType.Float, "N", 64)
        .Build();

    private static Dictionary<string, NdArray> Input(int batch = 2) =>
        new() { ["x"] = NdArray.Create<float>([batch, 3, 8, 8], Values(batch * 3 * 64, 9)) };

    private static float[] Run(ModelProto model, Dictionary<string, NdArray> input)
    {
        using var runner = new ModelRunner(model, "model");
        return runner.Run(input)["y"].ToFloats();
    }

    [Theory]
    [InlineData(DequantizeForm.CastMul, true)]
    [InlineData(DequantizeForm.CastMul, false)]
    [InlineData(DequantizeForm.DequantizeLinear, true)]
    [InlineData(DequantizeForm.DequantizeLinear, false)]
    public void Quantized_model_stays_close_to_the_float_model_and_is_about_four_times_smaller(DequantizeForm form, bool transB)
    {
        var original = ConvGemmModel(transB: transB);
        var quantized = original.Clone();

        var rewrites = new Int8WeightQuantization(form: form).Apply(quantized);

        Assert.Equal(2, rewrites);
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name is "conv.w" or "fc.w");
        Assert.InRange(original.CalculateSize() / (double)quantized.CalculateSize(), 3.6, 4.0);
        var expected = Run(original, Input());
        var actual = Run(quantized, Input());
        // Per-channel int8 keeps each weight within scale/2 = max|w|/254 of its value: outputs move by far less than their spread.
        var maxError = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        var spread = expected.Max() - expected.Min();
        Assert.InRange(maxError, 1e-7, spread * 0.02);
    }

    [Fact]
    public void Both_forms_compute_identical_outputs()
    {
        var castMul = ConvGemmModel();
        var dequantizeLinear = ConvGemmModel();
        new Int8WeightQuantization(form: DequantizeForm.CastMul).Apply(castMul);
        new Int8WeightQuantization(form: DequantizeForm.DequantizeLinear).Apply(dequantizeLinear);

        Assert.Equal(Run(dequantizeLinear, Input()), Run(castMul, Input()), (a, b) => Math.Abs(a - b) <= 1e-5f * Math.Max(1, Math.Abs(a)));
    }

    [Fact]
    public void Weights_on_the_int8_grid_are_reproduced_exactly()
    {
        // Every channel's weights are k * scale with max |k| = 127, so quantization is lossless.
        var weights = new float[4 * 6];
        for (var i = 0; i < weights.Length; i++) weights[i] = ((i * 37 % 255) - 127) * 0.01f * (1 + i % 4);
        for (var n = 0; n < 4; n++) weights[n] = 127 * 0.01f * (1 + n % 4); // row 0 pins each column's max
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 6)
            .Initializer("w", weights, 6, 4)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 1, 4)
            .Build();
        var quantized = model.Clone();
        new Int8WeightQuantization(minElements: 1).Apply(quantized);
        var input = new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([1, 6], [1, -2, 3, 0.5f, -1, 2]) };

        using var a = new ModelRunner(model, "model");
        using var b = new ModelRunner(quantized, "quantized");
        Assert.Equal(a.Run(input)["y"].ToFloats(), b.Run(input)["y"].ToFloats(), (x, y) => Math.Abs(x - y) <= 1e-5f);
    }

    [Fact]
    public void Only_the_named_nodes_are_quantized()
    {
        var model = ConvGemmModel();
        var gemm = model.Graph.Node.Single(n => n.OpType == "Gemm").Name;

        var rewrites = new Int8WeightQuantization(new HashSet<string> { gemm }).Apply(model);

        Assert.Equal(1, rewrites);
        Assert.Contains(model.Graph.Initializer, t => t.Name == "conv.w");
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name == "fc.w");
        Run(model, Input());
    }

    [Fact]
    public void A_weight_shared_by_two_nodes_is_stored_once()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 16)
            .Initializer("w", Values(256, 5), 16, 16)
            .Node("MatMul", ["x", "w"], ["h"])
            .Node("MatMul", ["h", "w"], ["y"])
            .Output("y", DataType.Float, 1, 16)
            .Build();

        new Int8WeightQuantization().Apply(model);

        Assert.Single(model.Graph.Initializer, t => t.DataType == (int)DataType.Int8);
        var input = new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([1, 16], Values(16, 6)) };
        using var runner = new ModelRunner(model, "model");
        Assert.Equal(16, runner.Run(input)["y"].ElementCount);
    }

    [Fact]
    public void Old_opset_models_are_quantized_with_the_cast_mul_form()
    {
        var model = ConvGemmModel(opset: 9);
        var expected = Run(model, Input());

        new Int8WeightQuantization().Apply(model);

        Assert.Contains(model.Graph.Node, n => n.OpType == "Cast");
        var actual = Run(model, Input());
        Assert.True(expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max() < (expected.Max() - expected.Min()) * 0.02);
    }

    [Fact]
    public void Small_weights_and_non_float_weights_are_left_alone()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 4)
            .Initializer("w", Values(16, 7), 4, 4)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 1, 4)
            .Build();

        Assert.Equal(0, new Int8WeightQuantization().Apply(model));
        Assert.Equal(0, new Int8WeightQuantization().Apply(ConvGemmModel().Also(m => new Int8WeightQuantization().Apply(m))));
    }

    [Theory]
    [InlineData("LSTM", 4)]
    [InlineData("GRU", 3)]
    [InlineData("RNN", 1)]
    public void Recurrent_weights_are_quantized_per_gate_row(string op, int gates)
    {
        const int hidden = 16, inputSize = 12;
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 5, 1, inputSize)
            .Initializer("w", Values(gates * hidden * inputSize, 1, 0.4f), 1, gates * hidden, inputSize)
            .Initializer("r", Values(gates * hidden * hidden, 2, 0.4f), 1, gates * hidden, hidden)
            .Node(op, ["x", "w", "r"], ["all", "y"], ("hidden_size", hidden))
            .Output("y", DataType.Float, 1, 1, hidden)
            .Build();
        var quantized = model.Clone();

        Assert.Equal(2, new Int8WeightQuantization().Apply(quantized));

        Assert.Equal(2, quantized.Graph.Initializer.Count(t => t.DataType == (int)DataType.Int8));
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name is "w" or "r");
        var (error, magnitude) = Compare(model, quantized, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([5, 1, inputSize], 3) });
        Assert.InRange(error, 1e-7, 0.02 * magnitude);
    }

    [Fact]
    public void Transposed_convolution_weights_are_quantized_along_their_output_channel_axis()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 4, 6, 6)
            .Initializer("w", Values(4 * 8 * 3 * 3, 1), 4, 8, 3, 3)
            .Node("ConvTranspose", ["x", "w"], ["y"], ("strides", new[] { 2, 2 }))
            .Output("y", DataType.Float)
            .Build();
        var quantized = model.Clone();

        Assert.Equal(1, new Int8WeightQuantization().Apply(quantized));

        Assert.Equal([1L, 8, 1, 1], quantized.Graph.Initializer.Single(t => t.Name.EndsWith(".scale")).Dims);
        var (error, magnitude) = Compare(model, quantized, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([1, 4, 6, 6], 3) });
        Assert.InRange(error, 1e-7, 0.02 * magnitude);
    }

    [Fact]
    public void Weights_of_if_branches_are_quantized_in_the_graph_that_holds_them()
    {
        var model = RecurrentIfModel();
        var quantized = model.Clone();

        // Two LSTM slots (W through the branch's Slice/Concat/Unsqueeze, and R) and two GRU slots.
        Assert.Equal(4, new Int8WeightQuantization().Apply(quantized));

        OnnxStructure.Validate(quantized, "int8 output");
        Assert.Equal(2, quantized.Graph.Initializer.Count(t => t.DataType == (int)DataType.Int8));
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name is "w_ih" or "lstm.r");
        Assert.Equal(["Cast", "Mul", "Cast", "Mul", "If"], quantized.Graph.Node.Select(n => n.OpType));
        var elseBranch = Branch(quantized, "else_branch");
        Assert.Equal(2, elseBranch.Initializer.Count(t => t.DataType == (int)DataType.Int8));
        Assert.DoesNotContain(elseBranch.Initializer, t => t.Name is "gru.w" or "gru.r");
        Assert.Equal(["Cast", "Mul", "Cast", "Mul", "GRU"], elseBranch.Node.Select(n => n.OpType));
        foreach (var condition in new[] { true, false })
        {
            var (error, magnitude) = Compare(model, quantized, RecurrentInput(condition));
            Assert.InRange(error, 1e-7, 0.02 * magnitude);
        }
    }

    [Fact]
    public void Onnx_runtime_folds_the_dequantization_into_float_weights_when_the_session_loads_also_inside_branches()
    {
        var quantized = RecurrentIfModel();
        new Int8WeightQuantization().Apply(quantized);
        var cast = ConvGemmModel();
        new Int8WeightQuantization().Apply(cast);

        foreach (var model in new[] { quantized, cast })
        {
            var optimized = AsOptimizedByOnnxRuntime(model);
            Assert.Equal(0, CountOps(optimized, "Cast"));
            Assert.Equal(0, CountOps(optimized, "Mul"));
            Assert.DoesNotContain(OnnxWalk.Graphs(optimized).SelectMany(g => g.Initializer), t => t.DataType == (int)DataType.Int8);
        }
    }
}


internal static class TestExtensions
{
    public static T Also<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
