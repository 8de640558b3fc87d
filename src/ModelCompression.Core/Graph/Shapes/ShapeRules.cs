using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph.Shapes;

/// <summary>
/// Per-operator type and shape rules for the common ONNX operators (default domain). Each returns one
/// type per output it can describe; operators without a rule, and malformed nodes, give unknown outputs.
/// </summary>
public static class ShapeRules
{
    private static readonly IReadOnlyList<TensorType> Nothing = [];

    // Operators whose (first) output has the element type and shape of their first input.
    private static readonly HashSet<string> SameAsInput =
    [
        "Identity", "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Round", "Sqrt", "Exp", "Log", "Sin", "Cos", "Tan",
        "Asin", "Acos", "Atan", "Sinh", "Cosh", "Tanh", "Asinh", "Acosh", "Atanh", "Sigmoid", "HardSigmoid", "HardSwish",
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "Softplus", "Softsign", "Erf", "Sign",
        "Clip", "Shrink", "Gelu", "Mish", "Softmax", "LogSoftmax", "Hardmax", "BatchNormalization",
        "InstanceNormalization", "LayerNormalization", "LpNormalization", "LRN", "MeanVarianceNormalization",
        "BitwiseNot", "Not", "CumSum", "Trilu", "ScatterElements", "ScatterND",
    ];

    // Elementwise operators with multidirectional (numpy) broadcasting whose output type is the inputs' type.
    private static readonly HashSet<string> BroadcastArithmetic =
    [
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Max", "Min", "Sum", "Mean",
    ];

    // Elementwise comparisons and logic with broadcasting; the output is bool.
    private static readonly HashSet<string> BroadcastBoolean =
    [
        "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor",
    ];

    private static readonly HashSet<string> Reductions =
    [
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceSumSquare",
    ];

    public static IReadOnlyList<TensorType> Infer(NodeContext c)
    {
        if (!c.Node.IsStandard()) return Nothing;
        try
        {
            return InferStandard(c);
        }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or InvalidOperationException or OverflowException or DivideByZeroException)
        {
            return Nothing; // a malformed node (axis out of range, missing input...): its outputs stay unknown
        }
    }

    private static IReadOnlyList<TensorType> InferStandard(NodeContext c)
    {
        var op = c.Node.OpType;
        if (SameAsInput.Contains(op)) return [c.Input(0)];
        if (BroadcastArithmetic.Contains(op)) return [Broadcast(ElementTypeOfAny(c), c.Node.Input.Select((_, i) => c.Input(i)))];
        if (BroadcastBoolean.Contains(op)) return [Broadcast(DataType.Bool, [c.Input(0), c.Input(1)])];
        if (Reductions.Contains(op)) return [Reduce(c)];
        return op switch
        {
            "IsNaN" or "IsInf" => [c.Input(0).WithElementType(DataType.Bool)],
            "Dropout" => [c.Input(0), c.Input(0).WithElementType(c.Opset >= 10 ? DataType.Bool : c.Input(0).ElementType)],
            "Where" => [Broadcast(c.Input(1).ElementType, [c.Input(0), c.Input(1), c.Input(2)])],
            "Cast" => [c.Input(0).WithElementType((DataType)c.Node.GetInt("to", 0))],
            "CastLike" => [c.Input(0).WithElementType(c.Input(1).ElementType)],
            "Conv" => [Conv(c)],
            "ConvTranspose" => [ConvTranspose(c)],
            "MaxPool" => Pool(c) is var p ? [p, p.WithElementType(DataType.Int64)] : Nothing,
            "AveragePool" or "LpPool" => [Pool(c)],
            "GlobalAveragePool" or "GlobalMaxPool" or "GlobalLpPool" => [GlobalPool(c.Input(0))],
            "Gemm" => [Gemm(c)],
            "MatMul" => [MatMul(c.Input(0), c.Input(1))],
            "Flatten" => [Flatten(c)],
            "Reshape" => [Reshape(c)],
            "Transpose" => [Transpose(c)],
            "Squeeze" => [Squeeze(c)],
            "Unsqueeze" => [Unsqueeze(c)],
            "Concat" => [Concat(c)],
            "Shape" => [Shape(c)],
            "Size" => [TensorType.Of(DataType.Int64)],
            "Gather" => [Gather(c)],
            "GatherElements" => [new TensorType(c.Input(0).ElementType, c.Input(1).Dims)],
            "Slice" => [Slice(c)],
            "ArgMax" or "ArgMin" => [ArgReduce(c)],
            "Constant" => [ConstantType(c.Node)],
            "ConstantOfShape" => [ConstantOfShape(c)],
            "Expand" => [Expand(c)],
            "Tile" => [Tile(c)],
            "Pad" => [Pad(c)],
            "Split" => Split(c),
            "If" => If(c),
            "QuantizeLinear" => [c.Input(0).WithElementType(QuantizedType(c))],
            "DequantizeLinear" => [c.Input(0).WithElementType(c.Input(1).ElementType)],
            _ => Nothing,
        };
    }

    // ------------------------------------------------------------ elementwise

    private static DataType ElementTypeOfAny(NodeContext c) =>
        c.Node.Input.Select((_, i) => c.Input(i).ElementType).FirstOrDefault(t => t != DataType.Undefined);

    private static TensorType Broadcast(DataType elementType, IEnumerable<TensorType> inputs)
    {
        IReadOnlyList<Dim> dims = [];
        foreach (var input in inputs)
        {
            if (input.Dims is null) return new TensorType(elementType, null);
            dims = BroadcastDims(dims, input.Dims);
        }
        return new TensorType(elementType, dims);
    }

    /// <summary>Numpy broadcasting of two shapes (right-aligned; a missing leading dimension counts as 1).</summary>
    public static Dim[] BroadcastDims(IReadOnlyList<Dim> a, IReadOnlyList<Dim> b)
    {
        var rank = Math.Max(a.Count, b.Count);
        var result = new Dim[rank];
        for (var i = 0; i < rank; i++)
        {
            var da = i < rank - a.Count ? Dim.Of(1) : a[i - (rank - a.Count)];
            var db = i < rank - b.Count ? Dim.Of(1) : b[i - (rank - b.Count)];
            result[i] = Dim.Broadcast(da, db);
        }
        return result;
    }

    // ------------------------------------------------------------ convolution and pooling

    private static TensorType Conv(NodeContext c)
    {
        var x = c.Input(0);
        var w = c.Input(1);
        var rank = x.Rank ?? w.Rank;
        if (rank is null) return new TensorType(x.ElementType, null);
        var spatial = rank.Value - 2;
        var kernel = c.Node.GetInts("kernel_shape") ?? (w.Dims is not null && w.Dims.Skip(2).All(d => d.IsKnown)
            ? w.Dims.Skip(2).Select(d => d.Value!.Value).ToArray()
            : null);
        var dims = new Dim[rank.Value];
        dims[0] = x.Dims?[0] ?? Dim.Unknown;
        dims[1] = w.Dims?[0] ?? Dim.Unknown;
        var window = Window.Of(c.Node, spatial);
        for (var i = 0; i < spatial; i++)
            dims[2 + i] = window.OutputDim(x.Dims?[2 + i] ?? Dim.Unknown, kernel?[i], i, ceil: false);
        return new TensorType(x.ElementType, dims);
    }

    private static TensorType ConvTranspose(NodeContext c)
    {
        var x = c.Input(0);
        var w = c.Input(1);
        var rank = x.Rank ?? w.Rank;
        if (rank is null) return new TensorType(x.ElementType, null);
        var spatial = rank.Value - 2;
        var group = c.Node.GetInt("group", 1);
        var kernel = c.Node.GetInts("kernel_shape") ?? (w.Dims is not null && w.Dims.Skip(2).All(d => d.IsKnown)
            ? w.Dims.Skip(2).Select(d => d.Value!.Value).ToArray()
            : null);
        var dims = new Dim[rank.Value];
        dims[0] = x.Dims?[0] ?? Dim.Unknown;
        dims[1] = w.Dims?[1] is { IsKnown: true } m ? Dim.Of(m.Value!.Value * group) : Dim.Unknown;
        var window = Window.Of(c.Node, spatial);
        var outputShape = c.Node.GetInts("output_shape");
        var outputPadding = c.Node.GetInts("output_padding") ?? new long[spatial];
        for (var i = 0; i < spatial; i++)
        {
            var input = x.Dims?[2 + i] ?? Dim.Unknown;
            if (outputShape is not null) dims[2 + i] = Dim.Of(outputShape[outputShape.Length - spatial + i]);
            else if (!input.IsKnown || kernel is null) dims[2 + i] = Dim.Unknown;
            else if (window.AutoPad is "SAME_UPPER" or "SAME_LOWER") dims[2 + i] = Dim.Of(input.Value!.Value * window.Strides[i]);
            else
            {
                var (begin, end) = window.AutoPad == "VALID" ? (0L, 0L) : (window.Pads[i], window.Pads[spatial + i]);
                dims[2 + i] = Dim.Of(window.Strides[i] * (input.Value!.Value - 1) + outputPadding[i]
                    + (kernel[i] - 1) * window.Dilations[i] + 1 - begin - end);
            }
        }
        return new TensorType(x.ElementType, dims);
    }

    private static TensorType Pool(NodeContext c)
    {
        var x = c.Input(0);
        var kernel = c.Node.GetInts("kernel_shape");
        if (x.Dims is null || kernel is null) return new TensorType(x.ElementType, x.Dims is null ? null : x.Dims.Select(_ => Dim.Unknown).ToArray());
        var spatial = x.Dims.Count - 2;
        var window = Window.Of(c.Node, spatial);
        var ceil = c.Node.GetInt("ceil_mode", 0) != 0;
        var dims = new Dim[x.Dims.Count];
        dims[0] = x.Dims[0];
        dims[1] = x.Dims[1];
        for (var i = 0; i < spatial; i++) dims[2 + i] = window.OutputDim(x.Dims[2 + i], kernel[i], i, ceil);
        return new TensorType(x.ElementType, dims);
    }

    private static TensorType GlobalPool(TensorType x) =>
        x.Dims is null ? x : new TensorType(x.ElementType, x.Dims.Select((d, i) => i < 2 ? d : Dim.Of(1)).ToArray());

    /// <summary>The sliding-window attributes shared by Conv and the pools.</summary>
    private sealed record Window(string AutoPad, long[] Strides, long[] Dilations, long[] Pads)
    {
        public static Window Of(NodeProto node, int spatial) => new(
            node.GetString("auto_pad", "NOTSET"),
            node.GetInts("strides") ?? Enumerable.Repeat(1L, spatial).ToArray(),
            node.GetInts("dilations") ?? Enumerable.Repeat(1L, spatial).ToArray(),
            node.GetInts("pads") ?? new long[2 * spatial]);

        public Dim OutputDim(Dim input, long? kernel, int axis, bool ceil)
        {
            if (!input.IsKnown || kernel is null) return Dim.Unknown;
            var size = input.Value!.Value;
            var stride = Strides[axis];
            if (AutoPad is "SAME_UPPER" or "SAME_LOWER") return Dim.Of((size + stride - 1) / stride);
            var (begin, end) = AutoPad == "VALID" ? (0L, 0L) : (Pads[axis], Pads[Strides.Length + axis]);
            var span = size + begin + end - (Dilations[axis] * (kernel.Value - 1) + 1);
            if (span < 0) return Dim.Unknown;
            if (!ceil) return Dim.Of(span / stride + 1);
            var count = (span + stride - 1) / stride + 1;
            // With ceil_mode the last window must still start inside the input or its leading padding.
            if ((count - 1) * stride >= size + begin) count--;
            return Dim.Of(count);
        }
    }

    // ------------------------------------------------------------ matrix products

    private static TensorType Gemm(NodeContext c)
    {
        var a = c.Input(0);
        var b = c.Input(1);
        var elementType = a.ElementType != DataType.Undefined ? a.ElementType : b.ElementType;
        if (a.Rank is not (null or 2) || b.Rank is not (null or 2)) return new TensorType(elementType, null);
        var m = a.Dims?[c.Node.GetInt("transA", 0) != 0 ? 1 : 0] ?? Dim.Unknown;
        var n = b.Dims?[c.Node.GetInt("transB", 0) != 0 ? 0 : 1] ?? Dim.Unknown;
        return new TensorType(elementType, [m, n]);
    }

    /// <summary>numpy.matmul: 1-D operands are promoted then the added axis removed; batch axes broadcast.</summary>
    public static TensorType MatMul(TensorType a, TensorType b)
    {
        var elementType = a.ElementType != DataType.Undefined ? a.ElementType : b.ElementType;
        if (a.Dims is null || b.Dims is null || a.Dims.Count == 0 || b.Dims.Count == 0) return new TensorType(elementType, null);
        var left = a.Dims.ToList();
        var right = b.Dims.ToList();
        if (a.Dims.Count == 1) left.Insert(0, Dim.Of(1));
        if (b.Dims.Count == 1) right.Add(Dim.Of(1));
        var dims = BroadcastDims(left.Take(left.Count - 2).ToList(), right.Take(right.Count - 2).ToList()).ToList();
        if (a.Dims.Count > 1) dims.Add(left[^2]);
        if (b.Dims.Count > 1) dims.Add(right[^1]);
        return new TensorType(elementType, dims);
    }

    // ------------------------------------------------------------ shape manipulation

    private static TensorType Flatten(NodeContext c)
    {
        var x = c.Input(0);
        var axis = c.Node.GetInt("axis", 1);
        if (x.Dims is null) return new TensorType(x.ElementType, [axis == 0 ? Dim.Of(1) : Dim.Unknown, Dim.Unknown]);
        var split = (int)(axis < 0 ? axis + x.Dims.Count : axis); // axis may be the rank itself: [prod(all), 1]
        if (split < 0 || split > x.Dims.Count) throw new ArgumentOutOfRangeException(nameof(c), $"Flatten axis {axis} is outside rank {x.Dims.Count}");
        return new TensorType(x.ElementType, [Product(x.Dims.Take(split)), Product(x.Dims.Skip(split))]);
    }

    private static TensorType Reshape(NodeContext c)
    {
        var x = c.Input(0);
        var shape = c.Opset >= 5 ? c.ConstantInts(1) : c.Node.GetInts("shape");
        if (shape is null)
        {
            // The target shape is computed at run time; its length still fixes the rank when known.
            var length = c.Input(1).KnownShape is [var n] ? n : (long?)null;
            return new TensorType(x.ElementType, length is null ? null : Enumerable.Repeat(Dim.Unknown, (int)length).ToArray());
        }
        var allowZero = c.Opset >= 14 && c.Node.GetInt("allowzero", 0) != 0;
        var dims = new Dim[shape.Length];
        var inferred = -1;
        for (var i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1) { inferred = i; continue; }
            dims[i] = shape[i] == 0 && !allowZero
                ? (x.Dims is not null && i < x.Dims.Count ? x.Dims[i] : Dim.Unknown)
                : Dim.Of(shape[i]);
        }
        if (inferred >= 0)
        {
            var total = x.KnownShape?.Aggregate(1L, (p, d) => p * d);
            var rest = dims.Where((_, i) => i != inferred).ToArray();
            dims[inferred] = total is not null && rest.All(d => d.IsKnown) && rest.Aggregate(1L, (p, d) => p * d.Value!.Value) is var known and not 0
                ? Dim.Of(total.Value / known)
                : Dim.Unknown;
        }
        return new TensorType(x.ElementType, dims);
    }

    private static TensorType Transpose(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is null) return x;
        var perm = c.Node.GetInts("perm") ?? Enumerable.Range(0, x.Dims.Count).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != x.Dims.Count) throw new ArgumentException("perm does not match the rank");
        return new TensorType(x.ElementType, perm.Select(p => x.Dims[(int)p]).ToArray());
    }

    private static TensorType Squeeze(NodeContext c)
    {
        var x = c.Input(0);
        var axesFromInput = c.Opset >= 13;
        var axes = axesFromInput ? c.ConstantInts(1) : c.Node.GetInts("axes");
        if (x.Dims is null || (axesFromInput && c.HasInput(1) && axes is null)) return new TensorType(x.ElementType, null);
        if (axes is null || axes.Length == 0)
        {
            // Without axes every size-1 dimension goes: only knowable when all sizes are known.
            return x.Dims.All(d => d.IsKnown) ? new TensorType(x.ElementType, x.Dims.Where(d => d.Value != 1).ToArray()) : new TensorType(x.ElementType, null);
        }
        var removed = axes.Select(a => Normalize(a, x.Dims.Count)).ToHashSet();
        return new TensorType(x.ElementType, x.Dims.Where((_, i) => !removed.Contains(i)).ToArray());
    }

    private static TensorType Unsqueeze(NodeContext c)
    {
        var x = c.Input(0);
        var axes = c.Opset >= 13 ? c.ConstantInts(1) : c.Node.GetInts("axes");
        if (x.Dims is null || axes is null) return new TensorType(x.ElementType, null);
        var rank = x.Dims.Count + axes.Length;
        var inserted = axes.Select(a => Normalize(a, rank)).ToHashSet();
        var dims = new Dim[rank];
        var next = 0;
        for (var i = 0; i < rank; i++) dims[i] = inserted.Contains(i) ? Dim.Of(1) : x.Dims[next++];
        return new TensorType(x.ElementType, dims);
    }

    private static TensorType Concat(NodeContext c)
    {
        var inputs = c.Node.Input.Select((_, i) => c.Input(i)).ToList();
        var elementType = inputs.Select(t => t.ElementType).FirstOrDefault(t => t != DataType.Undefined);
        var rank = inputs.Select(t => t.Rank).FirstOrDefault(r => r is not null);
        if (rank is null) return new TensorType(elementType, null);
        var axis = Normalize(c.Node.GetInt("axis", 0), rank.Value);
        var dims = new Dim[rank.Value];
        for (var d = 0; d < rank; d++)
        {
            if (d == axis)
            {
                dims[d] = inputs.All(t => t.Dims?[d].IsKnown == true) ? Dim.Of(inputs.Sum(t => t.Dims![d].Value!.Value)) : Dim.Unknown;
                continue;
            }
            dims[d] = inputs.Where(t => t.Dims is not null).Select(t => t.Dims![d]).Aggregate(Dim.Unknown, Dim.Merge);
        }
        return new TensorType(elementType, dims);
    }

    private static TensorType Shape(NodeContext c)
    {
        var rank = c.Input(0).Rank;
        if (rank is null) return new TensorType(DataType.Int64, [Dim.Unknown]);
        long Clamp(long v) => Math.Clamp(v < 0 ? v + rank.Value : v, 0, rank.Value);
        var start = c.Opset >= 15 ? Clamp(c.Node.GetInt("start", 0)) : 0;
        var end = c.Opset >= 15 ? Clamp(c.Node.GetInt("end", rank.Value)) : rank.Value;
        return TensorType.Of(DataType.Int64, Math.Max(0, end - start));
    }

    private static TensorType Gather(NodeContext c)
    {
        var data = c.Input(0);
        var indices = c.Input(1);
        if (data.Dims is null || indices.Dims is null) return new TensorType(data.ElementType, null);
        var axis = (int)Normalize(c.Node.GetInt("axis", 0), data.Dims.Count);
        return new TensorType(data.ElementType, [.. data.Dims.Take(axis), .. indices.Dims, .. data.Dims.Skip(axis + 1)]);
    }

    private static TensorType Slice(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is null) return x;
        long[]? starts, ends, axes, steps;
        if (c.Opset < 10)
        {
            (starts, ends, axes, steps) = (c.Node.GetInts("starts"), c.Node.GetInts("ends"), c.Node.GetInts("axes"), null);
        }
        else
        {
            (starts, ends) = (c.ConstantInts(1), c.ConstantInts(2));
            axes = c.HasInput(3) ? c.ConstantInts(3) : null;
            steps = c.HasInput(4) ? c.ConstantInts(4) : null;
            if ((c.HasInput(3) && axes is null) || (c.HasInput(4) && steps is null)) starts = null;
        }
        if (starts is null || ends is null || starts.Length != ends.Length)
            return new TensorType(x.ElementType, x.Dims.Select(_ => Dim.Unknown).ToArray());
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        var dims = x.Dims.ToArray();
        for (var j = 0; j < starts.Length; j++)
        {
            var axis = (int)Normalize(axes[j], dims.Length);
            dims[axis] = dims[axis].IsKnown ? Dim.Of(SliceLength(dims[axis].Value!.Value, starts[j], ends[j], steps?[j] ?? 1)) : Dim.Unknown;
        }
        return new TensorType(x.ElementType, dims);
    }

    /// <summary>The number of elements Slice keeps along one axis of size <paramref name="size"/> (ONNX clamping rules).</summary>
    public static long SliceLength(long size, long start, long end, long step)
    {
        if (step == 0) throw new ArgumentException("Slice step 0");
        if (start < 0) start += size;
        if (end < 0) end += size;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, size);
            end = Math.Clamp(end, 0, size);
            return Math.Max(0, (end - start + step - 1) / step);
        }
        start = Math.Clamp(start, 0, size - 1);
        end = Math.Clamp(end, -1, size - 1);
        return Math.Max(0, (start - end + (-step) - 1) / -step);
    }

    private static TensorType Reduce(NodeContext c)
    {
        var x = c.Input(0);
        var keepDims = c.Node.GetInt("keepdims", 1) != 0;
        var axesFromInput = c.Node.OpType == "ReduceSum" ? c.Opset >= 13 : c.Opset >= 18;
        long[]? axes;
        if (axesFromInput)
        {
            axes = c.ConstantInts(1);
            if (c.HasInput(1) && axes is null)
                return new TensorType(x.ElementType, keepDims && x.Dims is not null ? x.Dims.Select(_ => Dim.Unknown).ToArray() : null);
            if ((axes is null || axes.Length == 0) && c.Node.GetInt("noop_with_empty_axes", 0) != 0) return x;
        }
        else
        {
            axes = c.Node.GetInts("axes");
        }
        if (x.Dims is null) return new TensorType(x.ElementType, null);
        var reduced = axes is null || axes.Length == 0
            ? Enumerable.Range(0, x.Dims.Count).Select(i => (long)i).ToHashSet()
            : axes.Select(a => Normalize(a, x.Dims.Count)).ToHashSet();
        return new TensorType(x.ElementType, keepDims
            ? x.Dims.Select((d, i) => reduced.Contains(i) ? Dim.Of(1) : d).ToArray()
            : x.Dims.Where((_, i) => !reduced.Contains(i)).ToArray());
    }

    private static TensorType ArgReduce(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is null) return new TensorType(DataType.Int64, null);
        var axis = Normalize(c.Node.GetInt("axis", 0), x.Dims.Count);
        var keepDims = c.Node.GetInt("keepdims", 1) != 0;
        return new TensorType(DataType.Int64, keepDims
            ? x.Dims.Select((d, i) => i == axis ? Dim.Of(1) : d).ToArray()
            : x.Dims.Where((_, i) => i != axis).ToArray());
    }

    // ------------------------------------------------------------ constants and expansion

    private static TensorType ConstantType(NodeProto node)
    {
        if (ConstantNodes.ValueOf(node) is { } tensor) return TensorType.FromTensor(tensor);
        var sparse = node.Find("sparse_value")?.SparseTensor;
        return sparse?.Values is null ? TensorType.Unknown : TensorType.Of((DataType)sparse.Values.DataType, sparse.Dims.ToArray());
    }

    private static TensorType ConstantOfShape(NodeContext c)
    {
        var elementType = c.Node.Find("value")?.T is { } value ? (DataType)value.DataType : DataType.Float;
        if (c.ConstantInts(0) is { } shape) return TensorType.Of(elementType, shape);
        return new TensorType(elementType, c.Input(0).KnownShape is [var rank] ? Enumerable.Repeat(Dim.Unknown, (int)rank).ToArray() : null);
    }

    private static TensorType Expand(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is null || c.ConstantInts(1) is not { } shape) return new TensorType(x.ElementType, null);
        return new TensorType(x.ElementType, BroadcastDims(x.Dims, shape.Select(Dim.Of).ToArray()));
    }

    private static TensorType Tile(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is null) return x;
        var repeats = c.ConstantInts(1);
        return new TensorType(x.ElementType, x.Dims.Select((d, i) =>
            repeats is not null && d.IsKnown ? Dim.Of(d.Value!.Value * repeats[i]) : repeats?[i] == 1 ? d : Dim.Unknown).ToArray());
    }

    private static TensorType Pad(NodeContext c)
    {
        var x = c.Input(0);
        if (x.Dims is null) return x;
        var pads = c.Opset >= 11 ? c.ConstantInts(1) : c.Node.GetInts("pads") ?? c.Node.GetInts("paddings");
        if (pads is null || c.HasInput(3) || pads.Length != 2 * x.Dims.Count)
            return new TensorType(x.ElementType, x.Dims.Select(_ => Dim.Unknown).ToArray());
        var rank = x.Dims.Count;
        return new TensorType(x.ElementType, x.Dims.Select((d, i) => d.IsKnown ? Dim.Of(d.Value!.Value + pads[i] + pads[rank + i]) : Dim.Unknown).ToArray());
    }

    private static IReadOnlyList<TensorType> Split(NodeContext c)
    {
        var x = c.Input(0);
        var count = c.Node.Output.Count;
        if (x.Dims is null) return Enumerable.Repeat(x, count).ToList();
        var axis = (int)Normalize(c.Node.GetInt("axis", 0), x.Dims.Count);
        var split = c.Opset >= 13 ? c.ConstantInts(1) : c.Node.GetInts("split");
        var size = x.Dims[axis];
        var result = new List<TensorType>(count);
        for (var i = 0; i < count; i++)
        {
            Dim part;
            if (split is not null) part = Dim.Of(split[i]);
            else if (c.Opset >= 13 && c.HasInput(1)) part = Dim.Unknown;
            else if (!size.IsKnown) part = Dim.Unknown;
            else if (size.Value % count == 0) part = Dim.Of(size.Value!.Value / count);
            else if (c.Opset >= 18)
            {
                var chunk = (size.Value!.Value + count - 1) / count; // num_outputs: equal chunks, the last smaller
                part = Dim.Of(i < count - 1 ? chunk : size.Value!.Value - chunk * (count - 1));
            }
            else part = Dim.Unknown;
            result.Add(new TensorType(x.ElementType, x.Dims.Select((d, j) => j == axis ? part : d).ToArray()));
        }
        return result;
    }

    private static IReadOnlyList<TensorType> If(NodeContext c)
    {
        var branches = c.Graph.Subgraphs(c.Node);
        var thenBranch = branches.FirstOrDefault(b => ReferenceEquals(b.Proto, c.Node.Find("then_branch")?.G));
        var elseBranch = branches.FirstOrDefault(b => ReferenceEquals(b.Proto, c.Node.Find("else_branch")?.G));
        if (thenBranch is null || elseBranch is null) return Nothing;
        return c.Node.Output.Select((_, i) =>
            i < thenBranch.Proto.Output.Count && i < elseBranch.Proto.Output.Count
                ? TensorType.Common(
                    c.Inference.TypeOf(thenBranch, thenBranch.Proto.Output[i].Name),
                    c.Inference.TypeOf(elseBranch, elseBranch.Proto.Output[i].Name))
                : TensorType.Unknown).ToList();
    }

    private static DataType QuantizedType(NodeContext c)
    {
        if (c.HasInput(2)) return c.Input(2).ElementType;
        var declared = c.Opset >= 21 ? c.Node.GetInt("output_dtype", 0) : 0;
        return declared != 0 ? (DataType)declared : DataType.Uint8;
    }

    // ------------------------------------------------------------ helpers

    private static Dim Product(IEnumerable<Dim> dims)
    {
        long product = 1;
        foreach (var d in dims)
        {
            if (!d.IsKnown) return Dim.Unknown;
            product *= d.Value!.Value;
        }
        return Dim.Of(product);
    }

    private static long Normalize(long axis, int rank)
    {
        var normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank) throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} is outside rank {rank}");
        return normalized;
    }
}
