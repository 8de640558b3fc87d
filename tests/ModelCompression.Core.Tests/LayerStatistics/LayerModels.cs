using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.LayerStatistics;

/// <summary>Small models with Conv, Gemm and MatMul layers for the layer statistics tests, and random samples for them.</summary>
internal static class LayerModels
{
    public static float[] Random(int count, int seed, double offset = 0.5)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - offset)).ToArray();
    }

    /// <summary>x [N, channels, spatial...] → Conv (node "conv") → y, with a bias.</summary>
    public static ModelProto Conv(int channels, long[] spatial, int outputs, int groups, long[] kernel, params (string Name, object Value)[] attributes)
    {
        var weightShape = new long[] { outputs, channels / groups }.Concat(kernel).ToArray();
        var weightCount = (int)weightShape.Aggregate(1L, (a, d) => a * d);
        object?[] inputDims = ["N", channels, .. spatial.Cast<object?>()];
        return new OnnxBuilder(13)
            .Input("x", DataType.Float, inputDims)
            .Initializer("W", Random(weightCount, 1), weightShape)
            .Initializer("B", Random(outputs, 2), outputs)
            .Node("Conv", ["x", "W", "B"], ["y"], "conv", [("group", (long)groups), .. attributes])
            .Output("y", DataType.Float, Enumerable.Range(0, 2 + spatial.Length).Select(i => (object?)$"d{i}").ToArray())
            .Build();
    }

    /// <summary>x [N, 3, 10, 12] → conv_a (3→8, 3×3, pads 1) → Relu → conv_b (8→8, group 2, stride 2, dilation 2, pads) (5×5) → conv_d (depthwise 3×3, pads 1) → flatten [N, 200] → Gemm 'gemm' (transB) → MatMul 'head'.</summary>
    public static ModelProto Network()
    {
        return new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", 3, 10, 12)
            .Initializer("Wa", Random(8 * 3 * 9, 3), 8, 3, 3, 3)
            .Initializer("Wb", Random(8 * 4 * 9, 4), 8, 4, 3, 3)
            .Initializer("Wd", Random(8 * 9, 7), 8, 1, 3, 3)
            .Initializer("Wg", Random(16 * 200, 5), 16, 200)
            .Initializer("Wh", Random(16 * 5, 6), 16, 5)
            .Initializer("shape", NdArray.Create<long>([2], [0, -1]))
            .Node("Conv", ["x", "Wa"], ["a"], "conv_a", ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("Relu", ["a"], ["r"], "relu")
            .Node("Conv", ["r", "Wb"], ["b"], "conv_b", ("group", 2L), ("strides", new long[] { 2, 2 }), ("dilations", new long[] { 2, 2 }), ("pads", new long[] { 1, 0, 2, 1 }))
            .Node("Conv", ["b", "Wd"], ["d"], "conv_d", ("group", 8L), ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("Reshape", ["d", "shape"], ["f"], "flatten")
            .Node("Gemm", ["f", "Wg"], ["g"], "gemm", ("transB", 1L))
            .Node("MatMul", ["g", "Wh"], ["y"], "head")
            .Output("y", DataType.Float, "N", 5)
            .Build();
    }

    public static readonly string[] NetworkLayers = ["conv_a", "conv_b", "conv_d", "gemm", "head"];

    /// <summary><paramref name="count"/> random samples for <see cref="Network"/>, with a few negative inputs so Relu zeros some.</summary>
    public static SampleSet NetworkSamples(ModelProto model, int count, int seed = 7) =>
        SampleSet.FromArrays("calibration.npz", new Dictionary<string, NdArray>
        {
            ["x"] = NdArray.Create<float>([count, 3, 10, 12], Random(count * 3 * 10 * 12, seed, offset: 0.3)),
        }, model);
}
