using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Palettization;

/// <summary>Models and checks shared by the palettization and sparsity tests.</summary>
internal static class PaletteTestKit
{
    /// <summary>x [N, 3, 8, 8] → Conv (32×3×3×3) → Relu → MaxPool → Flatten → Gemm (transB, 64×288) → y [N, 64].</summary>
    public static ModelProto ConvGemmModel(int opset = 13) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("conv.w", Values(32 * 3 * 3 * 3, 1), 32, 3, 3, 3)
        .Initializer("conv.b", Values(32, 2), 32)
        .Initializer("fc.w", Values(64 * 32 * 9, 3), 64, 32 * 9)
        .Initializer("fc.b", Values(64, 4), 64)
        .Node("Conv", ["x", "conv.w", "conv.b"], ["c"], "conv", ("kernel_shape", new[] { 3, 3 }))
        .Node("Relu", ["c"], ["r"], "relu")
        .Node("MaxPool", ["r"], ["p"], "pool", ("kernel_shape", new[] { 2, 2 }), ("strides", new[] { 2, 2 }))
        .Node("Flatten", ["p"], ["f"], "flatten")
        .Node("Gemm", ["f", "fc.w", "fc.b"], ["y"], "fc", ("transB", 1))
        .Output("y", DataType.Float, "N", 64)
        .Build();

    public static Dictionary<string, NdArray> ConvGemmInput(int batch = 2) => new() { ["x"] = SyntheticInputs.Uniform([batch, 3, 8, 8], 9) };

    /// <summary>
    /// x [2, 1, 16] and cond → If: the then branch runs an LSTM (hidden 16) on weights of the main graph ("lstm.w",
    /// "lstm.r" [1, 64, 16]), the else branch a GRU on weights of its own ("gru.w", "gru.r" [1, 48, 16]); y [1, 1, 16].
    /// </summary>
    public static ModelProto RecurrentBranchesModel(int opset = 16)
    {
        var thenBranch = new OnnxBuilder(opset)
            .Node("LSTM", ["x", "lstm.w", "lstm.r"], ["lstm.y", "t"], "lstm", ("hidden_size", 16))
            .Output("t", DataType.Float, 1, 1, 16)
            .Graph();
        var elseBranch = new OnnxBuilder(opset)
            .Initializer("gru.w", Values(48 * 16, 13, 0.5f), 1, 48, 16)
            .Initializer("gru.r", Values(48 * 16, 14, 0.5f), 1, 48, 16)
            .Node("GRU", ["x", "gru.w", "gru.r"], ["gru.y", "e"], "gru", ("hidden_size", 16))
            .Output("e", DataType.Float, 1, 1, 16)
            .Graph();
        return new OnnxBuilder(opset)
            .Input("x", DataType.Float, 2, 1, 16)
            .Input("cond", DataType.Bool)
            .Initializer("lstm.w", Values(64 * 16, 11, 0.5f), 1, 64, 16)
            .Initializer("lstm.r", Values(64 * 16, 12, 0.5f), 1, 64, 16)
            .Node("If", ["cond"], ["y"], "branch", ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 1, 1, 16)
            .Build();
    }

    public static Dictionary<string, NdArray> RecurrentBranchesInput(bool condition) =>
        new() { ["x"] = SyntheticInputs.Uniform([2, 1, 16], 21), ["cond"] = Condition(condition) };

    /// <summary>x [1, K] → MatMul with w [K, N] → y [1, N].</summary>
    public static ModelProto MatMulModel(float[] weights, long k, long n, int opset = 13) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, 1, k)
        .Initializer("w", weights, k, n)
        .Node("MatMul", ["x", "w"], ["y"], "matmul")
        .Output("y", DataType.Float, 1, n)
        .Build();

    /// <summary>
    /// The weight ONNX Runtime computes with: the value node <paramref name="nodeName"/> reads as input
    /// <paramref name="input"/> once the session's load-time optimisations (constant folding) have run. Fails when
    /// anything but an initializer is left there (the expansion was not folded).
    /// </summary>
    public static float[] FoldedWeight(ModelProto model, string nodeName, int input = 1)
    {
        var optimized = AsOptimizedByOnnxRuntime(model);
        var graph = OnnxWalk.Graphs(optimized).Single(g => g.Node.Any(n => n.Name == nodeName));
        var node = graph.Node.Single(n => n.Name == nodeName);
        var tensor = OnnxWalk.Graphs(optimized).SelectMany(g => g.Initializer).FirstOrDefault(t => t.Name == node.Input[input]);
        Assert.True(tensor is not null, $"ONNX Runtime did not fold the input of '{nodeName}' into an initializer.");
        return TensorProtoConverter.ToNdArray(tensor).ToFloats();
    }

    /// <summary>The op types ONNX Runtime still runs after its load-time optimisations.</summary>
    public static string[] OpsAfterLoad(ModelProto model) =>
        OnnxWalk.Graphs(AsOptimizedByOnnxRuntime(model)).SelectMany(g => g.Node).Select(n => n.OpType).ToArray();

    public static double Rms(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum() / a.Length);

    public static Dictionary<string, int> AllAt(IEnumerable<string> nodes, int bits) => nodes.ToDictionary(n => n, _ => bits);
}
