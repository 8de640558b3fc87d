using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Quantization;

public class Fp16BiasConversionTests
{
    private static readonly HashSet<string> Layers = ["conv", "fc", "mm"];

    // A Conv and a Gemm with biases of 64 values, a bare MatMul followed by a bias Add, and a 10-value Gemm bias.
    private static ModelProto Model(float biasScale = 1) => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("conv.w", Values(64 * 3 * 3 * 3, 1), 64, 3, 3, 3)
        .Initializer("conv.b", Values(64, 2).Select(v => v * biasScale).ToArray(), 64)
        .Initializer("fc.w", Values(64 * 64 * 9, 3), 64, 64 * 9)
        .Initializer("fc.b", Values(64, 4), 64)
        .Initializer("mm.w", Values(64 * 64, 5), 64, 64)
        .Initializer("mm.b", Values(64, 6), 64)
        .Initializer("head.w", Values(64 * 10, 7), 10, 64)
        .Initializer("head.b", Values(10, 8), 10)
        .Node("Conv", ["x", "conv.w", "conv.b"], ["c"], "conv", ("kernel_shape", new[] { 3, 3 }))
        .Node("MaxPool", ["c"], ["p"], ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }))
        .Node("Flatten", ["p"], ["f"])
        .Node("Gemm", ["f", "fc.w", "fc.b"], ["g"], "fc", ("transB", 1))
        .Node("MatMul", ["g", "mm.w"], ["m"], "mm")
        .Node("Add", ["m", "mm.b"], ["a"])
        .Node("Gemm", ["a", "head.w", "head.b"], ["y"], "head", ("transB", 1))
        .Output("y", DataType.Float, "N", 10)
        .Build();

    private static Dictionary<string, NdArray> Input() => new() { ["x"] = SyntheticInputs.Uniform([2, 3, 8, 8], 9) };

    [Fact]
    public void The_named_layers_biases_become_float16_and_outputs_move_by_float16_rounding_only()
    {
        var model = Model();
        var converted = model.Clone();

        Assert.Equal(3, new Fp16BiasConversion(Layers).Apply(converted));

        OnnxStructure.Validate(converted, "fp16-biases output");
        Assert.Equal(["conv.b.fp16", "fc.b.fp16", "mm.b.fp16"], converted.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float16).Select(t => t.Name));
        Assert.DoesNotContain(converted.Graph.Initializer, t => t.Name is "conv.b" or "fc.b" or "mm.b");
        // 128 bytes saved per bias, less its Cast node: with the shipped model's compact names, more than half of it remains.
        Assert.True(ValueNameCompaction.Compacted(model).CalculateSize() - ValueNameCompaction.Compacted(converted).CalculateSize() > 3 * 64);
        var (error, magnitude) = Compare(model, converted, Input());
        Assert.InRange(error, 1e-7, 2e-3 * magnitude);
    }

    [Fact]
    public void Unnamed_layers_short_biases_and_biases_beyond_float16_stay_float()
    {
        var model = Model(biasScale: 1e6f);
        var converted = model.Clone();

        Assert.Equal(1, new Fp16BiasConversion(new HashSet<string> { "conv", "mm", "head" }).Apply(converted));

        Assert.Equal(["conv.b", "fc.b", "head.b"], converted.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float && t.Name.EndsWith(".b", StringComparison.Ordinal)).Select(t => t.Name));
        Assert.Equal(["mm.b.fp16"], converted.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float16).Select(t => t.Name));
    }
}
