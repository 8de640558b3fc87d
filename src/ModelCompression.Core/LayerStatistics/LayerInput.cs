using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// How one layer's data input becomes the rows its constant weight multiplies: which value to capture
/// (<see cref="Tensor"/>) and how a captured value splits into rows (<see cref="Rows"/>), each row
/// <see cref="Groups"/> × <see cref="Dimension"/> floats, group-major.
/// </summary>
internal abstract class LayerInput(string node, string tensor, int dimension, int groups)
{
    /// <summary>The layer's node.</summary>
    public string Node { get; } = node;

    /// <summary>The value the node multiplies its weight with (a graph input or a node output of the main graph).</summary>
    public string Tensor { get; } = tensor;

    /// <summary>The length of one group's row: the weight's input axis.</summary>
    public int Dimension { get; } = dimension;

    public int Groups { get; } = groups;

    /// <summary>The rows of one captured value of <see cref="Tensor"/>, or null when the value does not fit the weight (then the layer gets no statistics).</summary>
    public abstract RowSource? Rows(NdArray value);

    /// <summary>
    /// The layers of <paramref name="nodes"/> whose rows can be read: Conv, Gemm and MatMul nodes of the main graph with a
    /// constant float weight (MatMul: a 2-D one) and a float data input that is not constant. Other names are skipped:
    /// statistics are an aid, and a layer without them is handled as if they had not been asked for.
    /// </summary>
    public static IReadOnlyList<LayerInput> Find(ModelProto model, IEnumerable<string> nodes)
    {
        var wanted = nodes.ToHashSet(StringComparer.Ordinal);
        var view = new ModelView(model);
        var graph = view.Main;
        ShapeInference? shapes = null;
        var layers = new List<LayerInput>();
        foreach (var node in graph.Nodes)
        {
            if (!wanted.Remove(node.Name) || !node.IsStandard() || !QuantizableWeight.MatrixOpTypes.Contains(node.OpType)) continue;
            if (node.Input.Count < 2 || graph.ConstantTensor(node.Input[1]) is not { } weight || weight.DataType != (int)DataType.Float) continue;
            var data = node.Input[0];
            if (data.Length == 0 || graph.IsConstant(data)) continue;
            shapes ??= ShapeInference.Run(view);
            if (shapes.TypeOf(data).ElementType is not (DataType.Float or DataType.Undefined)) continue;
            if (Of(node, weight.Dims.ToArray()) is { } layer) layers.Add(layer);
        }
        return layers;
    }

    private static LayerInput? Of(NodeProto node, long[] weight) => node.OpType switch
    {
        "MatMul" when weight.Length == 2 => MatrixInput.Create(node, weight[0], transposed: false),
        "Gemm" when weight.Length == 2 => MatrixInput.Create(node, node.GetInt("transB", 0) == 1 ? weight[1] : weight[0], node.GetInt("transA", 0) == 1),
        "Conv" when weight.Length >= 3 => ConvInput.Create(node, weight),
        _ => null,
    };
}

/// <summary>One captured value's rows: <see cref="Count"/> of them, written one at a time.</summary>
internal abstract class RowSource
{
    public abstract long Count { get; }

    /// <summary>
    /// Writes row <paramref name="index"/> (Groups × Dimension floats) into <paramref name="destination"/>: element k of
    /// group g at g·<paramref name="groupStride"/> + k·<paramref name="elementStride"/> (group-major by default).
    /// </summary>
    public abstract void Write(long index, Span<float> destination, int groupStride, int elementStride);

    /// <summary>Writes row <paramref name="index"/> group-major: group g's row at g·Dimension.</summary>
    public void Write(long index, Span<float> destination, int dimension) => Write(index, destination, dimension, 1);
}

/// <summary>
/// MatMul A·B and Gemm: the rows are A's last-axis vectors (A [..., K]), or with Gemm's transA its columns (A [K, M]).
/// </summary>
internal sealed class MatrixInput : LayerInput
{
    private readonly bool _transposed;

    private MatrixInput(string node, string tensor, int dimension, bool transposed) : base(node, tensor, dimension, 1) =>
        _transposed = transposed;

    public static MatrixInput? Create(NodeProto node, long dimension, bool transposed) =>
        dimension is > 0 and <= int.MaxValue ? new MatrixInput(node.Name, node.Input[0], (int)dimension, transposed) : null;

    public override RowSource? Rows(NdArray value)
    {
        if (value.ElementType != DataType.Float || value.Rank == 0) return null;
        if (_transposed)
            return value.Rank == 2 && value.Shape[0] == Dimension ? new ColumnRows(value, Dimension) : null;
        return value.Shape[^1] == Dimension ? new LastAxisRows(value, Dimension) : null;
    }

    private sealed class LastAxisRows(NdArray value, int dimension) : RowSource
    {
        public override long Count { get; } = value.ElementCount / dimension;

        // One group: the strides do not matter.
        public override void Write(long index, Span<float> destination, int groupStride, int elementStride) =>
            value.AsSpan<float>().Slice(checked((int)(index * dimension)), dimension).CopyTo(destination);
    }

    private sealed class ColumnRows(NdArray value, int dimension) : RowSource
    {
        public override long Count { get; } = value.Shape[1];

        public override void Write(long index, Span<float> destination, int groupStride, int elementStride)
        {
            var values = value.AsSpan<float>();
            for (var k = 0; k < dimension; k++) destination[k] = values[checked((int)(k * Count + index))];
        }
    }
}
