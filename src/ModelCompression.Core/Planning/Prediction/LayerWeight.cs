using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// A layer's weight as rows: one row of <see cref="Inputs"/> values per output channel, in the order the layer's input
/// moments are laid out (MatMul's [K, N] transposed, Gemm's B by transB, Conv's [M, C/group·kh·kw] as it is).
/// </summary>
/// <param name="Groups">A grouped Conv's group count: output channel m reads the moments of group m / (Outputs / Groups).</param>
public sealed record LayerWeight(string Node, string OpType, float[] Rows, int Outputs, int Inputs, int Groups, long[] Shape, int ChannelAxis)
{
    /// <summary>The first weight of every node in <paramref name="nodes"/> (LSTMs and Gathers included: rows along their channel axis).</summary>
    public static IReadOnlyDictionary<string, LayerWeight> Of(ModelProto model, IReadOnlySet<string> nodes) =>
        Int8WeightQuantization.Eligible(model)
            .Where(w => nodes.Contains(w.Node.Name))
            .DistinctBy(w => w.Node.Name)
            .ToDictionary(w => w.Node.Name, From, StringComparer.Ordinal);

    private static LayerWeight From(QuantizableWeight weight)
    {
        var shape = weight.Initializer.Dims.ToArray();
        var values = TensorProtoConverter.ToNdArray(weight.Initializer).ToFloats();
        var outputs = (int)shape[weight.ChannelAxis];
        var inputs = values.Length / Math.Max(1, outputs);
        var groups = weight.Node.OpType == "Conv" ? (int)Math.Max(1, weight.Node.GetInt("group", 1)) : 1;
        return new LayerWeight(weight.Node.Name, weight.Node.OpType, ChannelMajor(values, shape, weight.ChannelAxis), outputs, inputs, groups, shape, weight.ChannelAxis);
    }

    /// <summary>Values laid out as <see cref="Shape"/> (an approximation of the stored tensor), as rows.</summary>
    public float[] RowsOf(float[] stored) => ChannelMajor(stored, Shape, ChannelAxis);

    /// <summary>The weight in its stored layout.</summary>
    public float[] Stored()
    {
        var (outer, inner) = Split(Shape, ChannelAxis);
        var stored = new float[Rows.Length];
        for (var o = 0; o < outer; o++)
            for (var c = 0; c < Outputs; c++)
                Array.Copy(Rows, c * Inputs + o * inner, stored, (o * Outputs + c) * inner, inner);
        return stored;
    }

    // [outer, C, inner] → [C, outer·inner]: each output channel's values in one row, in stored order.
    private static float[] ChannelMajor(float[] values, long[] shape, int axis)
    {
        var (outer, inner) = Split(shape, axis);
        var channels = (int)shape[axis];
        var rows = new float[values.Length];
        var width = outer * inner;
        for (var o = 0; o < outer; o++)
            for (var c = 0; c < channels; c++)
                Array.Copy(values, (o * channels + c) * inner, rows, c * width + o * inner, inner);
        return rows;
    }

    private static (int Outer, int Inner) Split(long[] shape, int axis) =>
        ((int)shape.Take(axis).Aggregate(1L, (a, d) => a * d), (int)shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d));
}
