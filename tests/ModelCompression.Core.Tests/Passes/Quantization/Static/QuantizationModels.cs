using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Quantization.Static;

/// <summary>Small float models and their data for the quantization tests.</summary>
internal static class QuantizationModels
{
    public static float[] Values(int count, int seed, float scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
    }

    /// <summary>x [N,3,8,8] → Conv 3×3 (8 channels, padding 1, bias) → y: the layer's output is the graph output.</summary>
    public static ModelProto Conv(int opset = 13) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("w", Values(8 * 3 * 3 * 3, 1, 0.5f), 8, 3, 3, 3)
        .Initializer("b", Values(8, 2, 0.2f), 8)
        .Node("Conv", ["x", "w", "b"], ["y"], ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }))
        .Output("y", DataType.Float, "N", 8, 8, 8)
        .Build();

    /// <summary>
    /// A small CNN: Conv → Relu → MaxPool → Conv → Relu → Flatten → Gemm (transB) → Relu → Gemm → y:
    /// the layers and the ops between them that ORT can run on integers.
    /// </summary>
    public static ModelProto Cnn(int opset = 13) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("c1.w", Values(16 * 3 * 9, 11, 0.4f), 16, 3, 3, 3)
        .Initializer("c1.b", Values(16, 12, 0.1f), 16)
        .Initializer("c2.w", Values(16 * 16 * 9, 13, 0.15f), 16, 16, 3, 3)
        .Initializer("c2.b", Values(16, 14, 0.1f), 16)
        .Initializer("f1.w", Values(32 * 256, 15, 0.1f), 32, 256)
        .Initializer("f1.b", Values(32, 16, 0.1f), 32)
        .Initializer("f2.w", Values(32 * 10, 17, 0.3f), 32, 10)
        .Initializer("f2.b", Values(10, 18, 0.1f), 10)
        .Node("Conv", ["x", "c1.w", "c1.b"], ["c1"], "conv1", ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }))
        .Node("Relu", ["c1"], ["r1"], "relu1")
        .Node("MaxPool", ["r1"], ["p1"], "pool1", ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }))
        .Node("Conv", ["p1", "c2.w", "c2.b"], ["c2"], "conv2", ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }))
        .Node("Relu", ["c2"], ["r2"], "relu2")
        .Node("Flatten", ["r2"], ["f"], "flatten")
        .Node("Gemm", ["f", "f1.w", "f1.b"], ["g1"], "fc1", ("transB", 1))
        .Node("Relu", ["g1"], ["r3"], "relu3")
        .Node("Gemm", ["r3", "f2.w", "f2.b"], ["y"], "fc2")
        .Output("y", DataType.Float, "N", 10)
        .Build();

    /// <summary>x [N,16] → MatMul (16×16) → h; h → MatMul (16×16) → h2; Add(h, h2) → MatMul (16×8) → y: a residual connection.</summary>
    public static ModelProto MatMuls(int opset = 13) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 16)
        .Initializer("w1", Values(16 * 16, 21, 0.5f), 16, 16)
        .Initializer("w2", Values(16 * 16, 22, 0.5f), 16, 16)
        .Initializer("w3", Values(16 * 8, 23, 0.5f), 16, 8)
        .Node("MatMul", ["x", "w1"], ["h"], "mm1")
        .Node("MatMul", ["h", "w2"], ["h2"], "mm2")
        .Node("Add", ["h", "h2"], ["s"], "residual")
        .Node("MatMul", ["s", "w3"], ["y"], "mm3")
        .Output("y", DataType.Float, "N", 8)
        .Build();

    public static NdArray Images(int count, int seed) => SyntheticInputs.Uniform([count, 3, 8, 8], seed);

    public static Dictionary<string, NdArray> Feed(string name, NdArray value) => new() { [name] = value };

    public static SampleSet Samples(ModelProto model, string name, NdArray value) =>
        SampleSet.FromArrays("calibration.npz", Feed(name, value), model);
}
