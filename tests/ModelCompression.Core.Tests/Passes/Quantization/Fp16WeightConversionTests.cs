using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Quantization;

public class Fp16WeightConversionTests
{
    private static ModelProto ConvGemmModel(int opset = 13) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("conv.w", Values(32 * 3 * 3 * 3, 1), 32, 3, 3, 3)
        .Initializer("conv.b", Values(32, 2), 32)
        .Initializer("fc.w", Values(64 * 32 * 9, 3), 64, 32 * 9)
        .Node("Conv", ["x", "conv.w", "conv.b"], ["c"], ("kernel_shape", new[] { 3, 3 }))
        .Node("MaxPool", ["c"], ["p"], ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }))
        .Node("Flatten", ["p"], ["f"])
        .Node("Gemm", ["f", "fc.w"], ["y"], ("transB", 1))
        .Output("y", DataType.Float, "N", 64)
        .Build();

    private static Dictionary<string, NdArray> Input() => new() { ["x"] = SyntheticInputs.Uniform([2, 3, 8, 8], 9) };

    [Fact]
    public void Weights_become_float16_the_file_halves_and_outputs_move_by_float16_rounding_only()
    {
        var model = ConvGemmModel();
        var converted = model.Clone();

        Assert.Equal(2, new Fp16WeightConversion().Apply(converted));

        OnnxStructure.Validate(converted, "fp16 output");
        Assert.Equal(["conv.w.fp16", "fc.w.fp16"], converted.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float16).Select(t => t.Name));
        Assert.DoesNotContain(converted.Graph.Initializer, t => t.Name is "conv.w" or "fc.w");
        Assert.InRange(model.CalculateSize() / (double)converted.CalculateSize(), 1.9, 2.0);
        // Each weight moves by at most 2^-11 of itself; outputs (sums of ~300 products of magnitude ≤ 1) by far less than 1e-2.
        var (error, magnitude) = Compare(model, converted, Input());
        Assert.InRange(error, 1e-7, 2e-3 * magnitude);
    }

    [Fact]
    public void Weights_representable_in_float16_are_reproduced_exactly()
    {
        var weights = Values(24, 1).Select(v => (float)(Half)v).ToArray();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 6)
            .Initializer("w", weights, 6, 4)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 1, 4)
            .Build();
        var converted = model.Clone();

        Assert.Equal(1, new Fp16WeightConversion(minElements: 1).Apply(converted));

        // The weight ONNX Runtime computes with (the Cast folded at load) is bit for bit the original.
        var folded = AsOptimizedByOnnxRuntime(converted).Graph;
        var matMul = folded.Node.Single(n => n.OpType == "MatMul");
        Assert.Equal(weights, TensorProtoConverter.ToNdArray(folded.Initializer.Single(t => t.Name == matMul.Input[1])).ToFloats());
        ModelEquivalence.AssertSameOutputs(model, converted, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([1, 6], 2) });
    }

    [Fact]
    public void A_weight_beyond_the_float16_range_stays_float()
    {
        var weights = Values(256, 1);
        weights[7] = 70000f;
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 16)
            .Initializer("w", weights, 16, 16)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 1, 16)
            .Build();

        Assert.Equal(0, new Fp16WeightConversion().Apply(model));
        Assert.Equal((int)DataType.Float, Assert.Single(model.Graph.Initializer).DataType);
    }

    [Fact]
    public void Models_before_opset_6_are_left_alone_because_their_cast_takes_a_type_name()
    {
        Assert.Equal(0, new Fp16WeightConversion().Apply(ConvGemmModel(opset: 5)));
        Assert.Empty(Fp16WeightConversion.Eligible(ConvGemmModel(opset: 5)));
    }

    [Fact]
    public void Only_the_named_nodes_are_converted()
    {
        var model = ConvGemmModel();
        var gemm = model.Graph.Node.Single(n => n.OpType == "Gemm").Name;

        Assert.Equal(1, new Fp16WeightConversion(new HashSet<string> { gemm }).Apply(model));

        Assert.Contains(model.Graph.Initializer, t => t.Name == "conv.w");
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name == "fc.w");
    }

    [Fact]
    public void Weights_of_if_branches_are_converted_in_the_graph_that_holds_them()
    {
        var model = RecurrentIfModel();
        var converted = model.Clone();

        Assert.Equal(4, new Fp16WeightConversion().Apply(converted));

        OnnxStructure.Validate(converted, "fp16 output");
        Assert.Equal(["w_ih.fp16", "lstm.r.fp16"], converted.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float16).Select(t => t.Name));
        Assert.Equal(["gru.w.fp16", "gru.r.fp16"], Branch(converted, "else_branch").Initializer.Where(t => t.DataType == (int)DataType.Float16).Select(t => t.Name));
        foreach (var condition in new[] { true, false })
        {
            var (error, magnitude) = Compare(model, converted, RecurrentInput(condition));
            Assert.InRange(error, 0, 2e-3 * magnitude);
        }
    }

    [Fact]
    public void Onnx_runtime_folds_the_casts_into_float_weights_when_the_session_loads()
    {
        foreach (var model in new[] { ConvGemmModel(), RecurrentIfModel() })
        {
            new Fp16WeightConversion().Apply(model);

            var optimized = AsOptimizedByOnnxRuntime(model);

            Assert.Equal(0, CountOps(optimized, "Cast"));
            Assert.DoesNotContain(OnnxWalk.Graphs(optimized).SelectMany(g => g.Initializer), t => t.DataType == (int)DataType.Float16);
        }
    }
}
