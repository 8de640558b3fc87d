using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>The ONNX models whose signatures Runtime/*.mcsig describe; the generator turned those into wrapper classes.</summary>
internal static class RuntimeModels
{
    /// <summary>Conv → Relu → Flatten → Gemm: input [1,1,6,6] → logits [1,3].</summary>
    public static ModelProto TinyCnn()
    {
        var random = new Random(7);
        return new OnnxBuilder()
            .Input("input", DataType.Float, 1, 1, 6, 6)
            .Initializer("conv_w", RandomFloats(random, 2 * 1 * 3 * 3), 2, 1, 3, 3)
            .Initializer("conv_b", RandomFloats(random, 2), 2)
            .Initializer("fc_w", RandomFloats(random, 32 * 3), 32, 3)
            .Initializer("fc_b", RandomFloats(random, 3), 3)
            .Node("Conv", ["input", "conv_w", "conv_b"], ["conv"], ("kernel_shape", new long[] { 3, 3 }))
            .Node("Relu", ["conv"], ["relu"])
            .Node("Flatten", ["relu"], ["flat"], ("axis", 1))
            .Node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"])
            .Output("logits", DataType.Float, 1, 3)
            .Build();
    }

    /// <summary>Every element type the wrapper binds, with silero-vad-like names and a scalar.</summary>
    public static ModelProto MultiType() => new OnnxBuilder()
        .Input("input", DataType.Float, 1, 4)
        .Input("state", DataType.Float16, 2, 1, 3)
        .Input("sr", DataType.Int64)
        .Input("flags", DataType.Bool, 3)
        .Input("pixels", DataType.Uint8, 1, 4)
        .Input("count", DataType.Int32, 2)
        .Input("d", DataType.Double, 2)
        .Input("i8", DataType.Int8, 2)
        .Input("i16", DataType.Int16, 2)
        .Input("u16", DataType.Uint16, 2)
        .Input("u32", DataType.Uint32, 2)
        .Input("u64", DataType.Uint64, 2)
        .Initializer("two", [2f])
        // output = Relu(input) + float(pixels); bytes = uint8(Relu(input))
        .Node("Relu", ["input"], ["relu"])
        .Node("Cast", ["pixels"], ["pixels_f"], ("to", (int)DataType.Float))
        .Node("Add", ["relu", "pixels_f"], ["output"])
        .Node("Cast", ["relu"], ["bytes"], ("to", (int)DataType.Uint8))
        // stateN = float16(2 * float(state))
        .Node("Cast", ["state"], ["state_f"], ("to", (int)DataType.Float))
        .Node("Mul", ["state_f", "two"], ["state_2"])
        .Node("Cast", ["state_2"], ["stateN"], ("to", (int)DataType.Float16))
        .Node("Add", ["sr", "sr"], ["sr_twice"])
        .Node("Not", ["flags"], ["not_flags"])
        .Node("Add", ["count", "count"], ["count_out"])
        .Node("Neg", ["d"], ["d_out"])
        .Node("Neg", ["i8"], ["i8_out"])
        .Node("Identity", ["i16"], ["i16_out"])
        .Node("Identity", ["u16"], ["u16_out"])
        .Node("Identity", ["u32"], ["u32_out"])
        .Node("Identity", ["u64"], ["u64_out"])
        .Output("output", DataType.Float, 1, 4)
        .Output("stateN", DataType.Float16, 2, 1, 3)
        .Output("sr_twice", DataType.Int64)
        .Output("not_flags", DataType.Bool, 3)
        .Output("bytes", DataType.Uint8, 1, 4)
        .Output("count_out", DataType.Int32, 2)
        .Output("d_out", DataType.Double, 2)
        .Output("i8_out", DataType.Int8, 2)
        .Output("i16_out", DataType.Int16, 2)
        .Output("u16_out", DataType.Uint16, 2)
        .Output("u32_out", DataType.Uint32, 2)
        .Output("u64_out", DataType.Uint64, 2)
        .Build();

    /// <summary>Class scores in three element types: scores = x, double_scores = double(x), half_scores = x16 (a float16 input).</summary>
    public static ModelProto Scores() => new OnnxBuilder()
        .Input("x", DataType.Float, 3, 4)
        .Input("x16", DataType.Float16, 3, 4)
        .Node("Identity", ["x"], ["scores"])
        .Node("Identity", ["x16"], ["half_scores"])
        .Node("Cast", ["x"], ["double_scores"], ("to", (int)DataType.Double))
        .Output("scores", DataType.Float, 3, 4)
        .Output("half_scores", DataType.Float16, 3, 4)
        .Output("double_scores", DataType.Double, 3, 4)
        .Build();

    /// <summary>
    /// Free dimensions: x [N, 2, W] and offset [1] → mean [N, ?] (ReduceMean over axis 1: its shape follows W, but the
    /// graph does not say so) and shifted [N, 2, W] = 2x + offset.
    /// </summary>
    public static ModelProto FreeWidth() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 2, "W")
        .Input("offset", DataType.Float, 1)
        .Initializer("two", [2f])
        .Node("ReduceMean", ["x"], ["mean"], ("axes", new long[] { 1 }), ("keepdims", 0))
        .Node("Mul", ["x", "two"], ["doubled"])
        .Node("Add", ["doubled", "offset"], ["shifted"])
        .Output("mean", DataType.Float, "N", null)
        .Output("shifted", DataType.Float, "N", 2, "W")
        .Build();

    /// <summary>The batch-1 sample that fixes <see cref="FreeWidth"/>'s sidecar shapes: W = 5.</summary>
    public static Dictionary<string, NdArray> FreeWidthSample() => new()
    {
        ["x"] = NdArray.Create<float>([1, 2, 5], new float[10]),
        ["offset"] = NdArray.Create<float>([1], new float[1]),
    };

    private static float[] RandomFloats(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
}
