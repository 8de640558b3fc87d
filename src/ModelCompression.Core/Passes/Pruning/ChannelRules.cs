using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// How each operator moves channels from its inputs to its outputs, and what it needs sliced when channels go.
/// One method per family of operators; whatever is not listed here refuses the channels it reads. Rules only ever
/// add knowledge to <see cref="ChannelDependencies"/>: a producer's fresh ids, a layout for an output, a coupling, a
/// slice, or a refusal with its reason.
/// </summary>
internal sealed class ChannelRules(ChannelDependencies deps)
{
    // Elementwise with one data input: every output has the input's shape and channels.
    private static readonly HashSet<string> Unary =
    [
        "Relu", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "Elu", "Selu", "Celu", "Softplus",
        "Softsign", "Gelu", "Mish", "Erf", "Exp", "Log", "Abs", "Neg", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
        "Sign", "Identity", "Dropout", "Cast", "ThresholdedRelu", "Sin", "Cos", "IsNaN", "IsInf", "Not",
    ];

    // Elementwise with numpy broadcasting over several inputs.
    private static readonly HashSet<string> Broadcasting =
    [
        "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu", "Where", "Mod", "Equal", "Less",
        "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor",
    ];

    private static readonly HashSet<string> Pools =
        ["MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"];

    private static readonly HashSet<string> Reductions =
    [
        "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
        "ReduceLogSumExp", "ReduceSumSquare",
    ];

    private GraphView Graph => deps.Graph;

    private int Opset => Graph.Model.OpsetVersion();

    public void Visit(NodeProto node)
    {
        var tracked = node.Input.Select(deps.LayoutOf).ToArray();
        if (!node.IsStandard())
        {
            Refuse(node, tracked, $"an operator of domain '{node.Domain}'");
            return;
        }
        switch (node.OpType)
        {
            case "Conv": Conv(node, tracked); return;
            case "Gemm": Gemm(node, tracked); return;
            case "MatMul": MatMul(node, tracked); return;
        }
        if (tracked.All(t => t is null))
        {
            if (node.Input.Select(deps.BlockedBecause).FirstOrDefault(r => r is not null) is { } reason)
                foreach (var output in node.Output) deps.Block(output, reason);
            return;
        }
        var op = node.OpType;
        if (Unary.Contains(op)) PassThrough(node, tracked);
        else if (Broadcasting.Contains(op)) Elementwise(node, tracked);
        else if (Pools.Contains(op)) Pool(node, tracked);
        else if (Reductions.Contains(op)) Reduce(node, tracked);
        else switch (op)
        {
            case "BatchNormalization": Normalization(node, tracked, parameters: 4, spatialStatistics: false); break;
            case "InstanceNormalization": Normalization(node, tracked, parameters: 2, spatialStatistics: true); break;
            case "Softmax" or "LogSoftmax" or "Hardmax": Softmax(node, tracked); break;
            case "Concat": Concat(node, tracked); break;
            case "Transpose": Transpose(node, tracked); break;
            case "Squeeze": Squeeze(node, tracked); break;
            case "Unsqueeze": Unsqueeze(node, tracked); break;
            case "Slice": Slice(node, tracked); break;
            case "Flatten": ReshapeRules.Flatten(deps, node, tracked); break;
            case "Reshape": ReshapeRules.Reshape(deps, node, tracked); break;
            case "Shape": Shape(node, tracked); break;
            default: Refuse(node, tracked, "the pass does not know how it uses channels"); break;
        }
    }

    // ---------------------------------------------------------------- layers with weights

    // Conv W [M, C/group, k...]. group 1: reads channels on W axis 1, produces M new ones (W axis 0, bias).
    // Depthwise (group = C = M): input and output channels are the same channels; W axis 0, bias and group shrink.
    private void Conv(NodeProto node, ChannelLayout?[] tracked)
    {
        var x = tracked[0];
        if (tracked.Skip(1).Any(t => t is not null) || FloatConstant(node.InputOrEmpty(1)) is not { Dims.Count: >= 3 } w)
        {
            Refuse(node, tracked, "its weights are not a constant float tensor");
            return;
        }
        var group = node.GetInt("group", 1);
        var (m, perGroup) = (w.Dims[0], w.Dims[1]);
        var hasBias = node.InputOrEmpty(2).Length > 0;
        if (hasBias && Graph.ConstantTensor(node.Input[2]) is null)
        {
            Refuse(node, tracked, "its bias is not a constant");
            return;
        }
        if (x is not null)
        {
            if (x.Axis != 1)
            {
                Refuse(node, tracked, $"it reads channels on axis {x.Axis}, not 1");
                return;
            }
            if (group == 1 && x.Length == perGroup) deps.Slice(node, 1, 1, x.Ids, isWeight: true);
            else if (group == m && perGroup == 1 && x.Length == group)
            {
                deps.Slice(node, 1, 0, x.Ids, isWeight: true);
                if (hasBias) deps.Slice(node, 2, 0, x.Ids);
                deps.ShrinkGroupAttribute(node, x.Ids);
                deps.SetLayout(node.Output[0], x);
                return;
            }
            else
            {
                Refuse(node, tracked, $"a grouped convolution (group = {group}) whose groups pruning would unbalance");
                return;
            }
        }
        if (group != 1 || node.OutputOrEmpty(0).Length == 0) return;
        var produced = deps.NewProducer(node, node.Output[0], 1, (int)m);
        deps.Slice(node, 1, 0, produced.Ids, isWeight: true);
        if (hasBias) deps.Slice(node, 2, 0, produced.Ids);
    }

    // Gemm Y = α·op(A)·op(B) + β·C: channels of A's K axis are B's rows (or columns with transB); Y's N columns are new.
    private void Gemm(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked.Skip(1).Any(t => t is not null) || FloatConstant(node.InputOrEmpty(1)) is not { Dims.Count: 2 } b)
        {
            Refuse(node, tracked, "its B input is not a constant float matrix");
            return;
        }
        var transB = node.GetInt("transB", 0) != 0;
        var (kAxis, nAxis) = transB ? (1, 0) : (0, 1);
        if (tracked[0] is { } a)
        {
            var expected = node.GetInt("transA", 0) != 0 ? 0 : 1;
            if (a.Axis != expected || a.Length != b.Dims[kAxis])
            {
                Refuse(node, tracked, $"it reads channels on axis {a.Axis} of A, not its K axis {expected}");
                return;
            }
            deps.Slice(node, 1, kAxis, a.Ids, isWeight: true);
        }
        if (node.OutputOrEmpty(0).Length == 0) return;
        var n = b.Dims[nAxis];
        int? cAxis = null;
        if (node.InputOrEmpty(2).Length > 0)
        {
            if (Graph.ConstantTensor(node.Input[2]) is not { } c) return; // a computed C: the output's columns stay
            if (c.Dims.Count > 0 && c.Dims[^1] == n && n != 1) cAxis = c.Dims.Count - 1;
        }
        var produced = deps.NewProducer(node, node.Output[0], 1, (int)n);
        deps.Slice(node, 1, nAxis, produced.Ids, isWeight: true);
        if (cAxis is { } axis) deps.Slice(node, 2, axis, produced.Ids);
    }

    // MatMul A·B with a constant 2-D B: channels on A's last axis are B's rows; the output's last axis is new.
    private void MatMul(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[1] is not null || FloatConstant(node.InputOrEmpty(1)) is not { Dims.Count: 2 } b)
        {
            Refuse(node, tracked, "its B input is not a constant float matrix");
            return;
        }
        if (tracked[0] is { } a)
        {
            if (Rank(node.Input[0]) is not { } rank || a.Axis != rank - 1 || a.Length != b.Dims[0])
            {
                Refuse(node, tracked, $"it reads channels on axis {a.Axis} of A, not its last axis");
                return;
            }
            deps.Slice(node, 1, 0, a.Ids, isWeight: true);
        }
        if (node.OutputOrEmpty(0).Length == 0 || Rank(node.Output[0]) is not { } outputRank) return;
        var produced = deps.NewProducer(node, node.Output[0], outputRank - 1, (int)b.Dims[1]);
        deps.Slice(node, 1, 1, produced.Ids, isWeight: true);
    }

    // ---------------------------------------------------------------- elementwise

    private void PassThrough(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || tracked.Skip(1).Any(t => t is not null))
        {
            Refuse(node, tracked, "it reads channels through a parameter input");
            return;
        }
        foreach (var output in node.Output) deps.SetLayout(output, x);
    }

    // Numpy broadcasting: operands align from the right. Operands carrying channels must carry them on the same
    // output axis and are coupled position by position; any other operand either broadcasts over that axis (size 1,
    // or too few dimensions), or is a constant with one value per position, sliced with the channels.
    private void Elementwise(NodeProto node, ChannelLayout?[] tracked)
    {
        var ranks = node.Input.Select(v => v.Length == 0 ? 0 : Rank(v)).ToArray();
        if (ranks.Any(r => r is null))
        {
            Refuse(node, tracked, "the ranks of its operands are unknown");
            return;
        }
        var outputRank = ranks.Max()!.Value;
        ChannelLayout? joined = null;
        for (var i = 0; i < tracked.Length; i++)
        {
            if (tracked[i] is not { } t) continue;
            var axis = t.Axis + outputRank - ranks[i]!.Value;
            if (joined is null) joined = t.OnAxis(axis);
            else if (joined.Axis != axis || joined.Length != t.Length)
            {
                Refuse(node, tracked, "its operands carry channels on different axes");
                return;
            }
            else deps.Couple(joined.Ids, t.Ids, $"{Describe(node)} adds channels of '{node.Input[i]}' to positions no prunable layer produces");
        }
        for (var i = 0; i < tracked.Length; i++)
        {
            if (tracked[i] is not null || node.Input[i].Length == 0) continue;
            var local = joined!.Axis - (outputRank - ranks[i]!.Value);
            if (local < 0) continue;
            var size = Dims(node.Input[i])?[local] ?? Dim.Unknown;
            if (size.Value == 1) continue;
            if (Graph.ConstantTensor(node.Input[i]) is { } constant && constant.Dims[local] == joined.Length)
                deps.Slice(node, i, local, joined.Ids);
            else
            {
                var reason = deps.BlockedBecause(node.Input[i]) is { } root
                    ? $"operand '{node.Input[i]}' of {Describe(node)} carries channels that cannot be pruned: {root}"
                    : $"operand '{node.Input[i]}' of {Describe(node)} has {size} positions on the channel axis and is not a constant that can be sliced";
                deps.Fix(joined, reason);
                foreach (var output in node.Output) deps.Block(output, deps.BlockedBecause(node.Input[i]) ?? reason);
                return;
            }
        }
        foreach (var output in node.Output) deps.SetLayout(output, joined!);
    }

    // BatchNormalization normalizes each channel with its own parameters: they are sliced with the channels.
    // InstanceNormalization also takes statistics over the spatial axes, so channels elsewhere cannot pass.
    private void Normalization(NodeProto node, ChannelLayout?[] tracked, int parameters, bool spatialStatistics)
    {
        if (tracked[0] is not { } x || tracked.Skip(1).Any(t => t is not null))
        {
            Refuse(node, tracked, "it reads channels through a parameter input");
            return;
        }
        if (node.Output.Skip(1).Any(o => o.Length > 0 && Graph.IsUsed(o)))
        {
            Refuse(node, tracked, "its running statistics are read (training mode)");
            return;
        }
        if (x.Axis == 1)
        {
            for (var i = 1; i <= parameters; i++)
            {
                if (Graph.ConstantTensor(node.InputOrEmpty(i)) is not { Dims: [var length] } || length != x.Length)
                {
                    Refuse(node, tracked, $"its parameter '{node.InputOrEmpty(i)}' is not a constant vector of {x.Length} values");
                    return;
                }
                deps.Slice(node, i, 0, x.Ids);
            }
        }
        else if (spatialStatistics && x.Axis > 1)
        {
            Refuse(node, tracked, "it takes statistics over the axis that carries channels");
            return;
        }
        deps.SetLayout(node.Output[0], x);
    }

    // Pools work per channel over the spatial axes; MaxPool's indices count positions across channels.
    private void Pool(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || x.Axis > 1)
        {
            Refuse(node, tracked, "it pools over the axis that carries channels");
            return;
        }
        if (node.OutputOrEmpty(1) is { Length: > 0 } indices && Graph.IsUsed(indices))
        {
            Refuse(node, tracked, "its indices output numbers positions across channels");
            return;
        }
        deps.SetLayout(node.Output[0], x);
    }

    private void Reduce(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || tracked.Skip(1).Any(t => t is not null) || Rank(node.Input[0]) is not { } rank)
        {
            Refuse(node, tracked, "its input's rank is unknown");
            return;
        }
        var axesFromInput = node.OpType == "ReduceSum" ? Opset >= 13 : Opset >= 18;
        var axes = axesFromInput ? (node.InputOrEmpty(1).Length > 0 ? ConstantInts(node.Input[1]) : []) : node.GetInts("axes") ?? [];
        if (axes is null)
        {
            Refuse(node, tracked, "its axes are computed at run time");
            return;
        }
        if (axes.Length == 0 && node.GetInt("noop_with_empty_axes", 0) != 0)
        {
            deps.SetLayout(node.Output[0], x);
            return;
        }
        var reduced = axes.Length == 0 ? Enumerable.Range(0, rank).ToHashSet() : axes.Select(a => Normalize(a, rank)).ToHashSet();
        if (reduced.Contains(x.Axis))
        {
            Refuse(node, tracked, "it reduces over the axis that carries channels");
            return;
        }
        var keep = node.GetInt("keepdims", 1) != 0;
        deps.SetLayout(node.Output[0], x.OnAxis(keep ? x.Axis : x.Axis - reduced.Count(a => a < x.Axis)));
    }

    private void Softmax(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || Rank(node.Input[0]) is not { } rank)
        {
            Refuse(node, tracked, "its input's rank is unknown");
            return;
        }
        // Before opset 13 the input is coerced to 2-D at `axis`: every axis from there on is normalized together.
        var mixes = Opset >= 13
            ? x.Axis == Normalize(node.GetInt("axis", -1), rank)
            : x.Axis >= Normalize(node.GetInt("axis", 1), rank);
        if (mixes) Refuse(node, tracked, "it normalizes across channels");
        else deps.SetLayout(node.Output[0], x);
    }

    // ---------------------------------------------------------------- layout operators

    // Along the concatenation axis the output lists each input's positions in turn (inputs without channels keep
    // theirs); along any other axis the inputs' channels meet position by position, as in an elementwise op.
    private void Concat(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked.First(t => t is not null) is not { } first || Rank(node.Input[0]) is not { } rank)
        {
            Refuse(node, tracked, "its inputs' rank is unknown");
            return;
        }
        var axis = Normalize(node.GetInt("axis", 0), rank);
        if (first.Axis != axis)
        {
            Elementwise(node, tracked);
            return;
        }
        var ids = new List<int>();
        for (var i = 0; i < tracked.Length; i++)
        {
            if (tracked[i] is { } t)
            {
                if (t.Axis != axis)
                {
                    Refuse(node, tracked, "its inputs carry channels on different axes");
                    return;
                }
                ids.AddRange(t.Ids);
            }
            else if (Dims(node.Input[i])?[axis].Value is { } size) ids.AddRange(Enumerable.Repeat(ChannelLayout.Untracked, (int)size));
            else
            {
                Refuse(node, tracked, $"the size of its input '{node.Input[i]}' along the concatenation axis is unknown");
                return;
            }
        }
        deps.SetLayout(node.Output[0], new ChannelLayout(axis, ids.ToArray()));
    }

    private void Transpose(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || Rank(node.Input[0]) is not { } rank)
        {
            Refuse(node, tracked, "its input's rank is unknown");
            return;
        }
        var perm = node.GetInts("perm") ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        var axis = Array.IndexOf(perm, (long)x.Axis);
        if (axis < 0) Refuse(node, tracked, "its permutation does not move the channel axis anywhere");
        else deps.SetLayout(node.Output[0], x.OnAxis(axis));
    }

    private void Squeeze(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || Dims(node.Input[0]) is not { } dims)
        {
            Refuse(node, tracked, "its input's rank is unknown");
            return;
        }
        var axes = Opset >= 13 ? (node.InputOrEmpty(1).Length > 0 ? ConstantInts(node.Input[1]) : null) : node.GetInts("axes");
        if (axes is null && (Opset < 13 || node.InputOrEmpty(1).Length == 0))
        {
            // No axes: every size-1 axis goes, which is only known when every size is.
            if (dims.Any(d => !d.IsKnown))
            {
                Refuse(node, tracked, "it squeezes axes of unknown size");
                return;
            }
            axes = Enumerable.Range(0, dims.Count).Where(i => dims[i].Value == 1).Select(i => (long)i).ToArray();
        }
        if (axes is null)
        {
            Refuse(node, tracked, "its axes are computed at run time");
            return;
        }
        var removed = axes.Select(a => Normalize(a, dims.Count)).ToHashSet();
        if (removed.Contains(x.Axis)) Refuse(node, tracked, "it squeezes the axis that carries channels");
        else deps.SetLayout(node.Output[0], x.OnAxis(x.Axis - removed.Count(a => a < x.Axis)));
    }

    private void Unsqueeze(NodeProto node, ChannelLayout?[] tracked)
    {
        var axes = Opset >= 13 ? ConstantInts(node.InputOrEmpty(1)) : node.GetInts("axes");
        if (tracked[0] is not { } x || Rank(node.Input[0]) is not { } rank || axes is null)
        {
            Refuse(node, tracked, "its rank or axes are unknown");
            return;
        }
        var outputRank = rank + axes.Length;
        var inserted = axes.Select(a => Normalize(a, outputRank)).ToHashSet();
        var kept = Enumerable.Range(0, outputRank).Where(i => !inserted.Contains(i)).ToList();
        if (kept.Count != rank) Refuse(node, tracked, "its axes repeat or fall outside the output");
        else deps.SetLayout(node.Output[0], x.OnAxis(kept[x.Axis]));
    }

    // A Slice along other axes leaves the channels alone; one along the channel axis would drop some of them.
    private void Slice(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || tracked.Skip(1).Any(t => t is not null) || Rank(node.Input[0]) is not { } rank)
        {
            Refuse(node, tracked, "its input's rank is unknown");
            return;
        }
        long[]? axes;
        if (Opset < 10) axes = node.GetInts("axes") ?? node.GetInts("starts")?.Select((_, i) => (long)i).ToArray();
        else if (node.InputOrEmpty(3).Length > 0) axes = ConstantInts(node.Input[3]);
        else axes = ConstantInts(node.InputOrEmpty(1))?.Select((_, i) => (long)i).ToArray();
        if (axes is null) Refuse(node, tracked, "its axes are computed at run time");
        else if (axes.Any(a => Normalize(a, rank) == x.Axis)) Refuse(node, tracked, "it slices the axis that carries channels");
        else deps.SetLayout(node.Output[0], x);
    }

    private void Shape(NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is { } x && ShapeReads.WhyChannelCountIsRead(Graph, node, x.Axis, Rank(node.Input[0])) is { } reason)
            deps.Fix(x, $"'{node.Input[0]}' {reason}");
    }

    // ---------------------------------------------------------------- helpers

    private void Refuse(NodeProto node, ChannelLayout?[] tracked, string why) => Refuse(deps, node, tracked, why);

    /// <summary>Refuses the channels of every tracked input; the outputs carry them unpruned from here on.</summary>
    public static void Refuse(ChannelDependencies deps, NodeProto node, ChannelLayout?[] tracked, string why)
    {
        string? first = null;
        for (var i = 0; i < tracked.Length; i++)
        {
            if (tracked[i] is not { } t) continue;
            var reason = $"'{node.Input[i]}' is read by {Describe(node)}: {why}";
            deps.Fix(t, reason);
            first ??= reason;
        }
        if (first is null) return;
        foreach (var output in node.Output) deps.Block(output, first);
    }

    private static string Describe(NodeProto node) => $"{node.OpType} '{node.Name}'";

    private int? Rank(string value) => deps.Shapes.TypeOf(Graph, value).Rank;

    private IReadOnlyList<Dim>? Dims(string value) => deps.Shapes.TypeOf(Graph, value).Dims;

    private TensorProto? FloatConstant(string value) =>
        Graph.ConstantTensor(value) is { } t && (DataType)t.DataType is DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16
            ? t
            : null;

    private long[]? ConstantInts(string value) =>
        value.Length > 0 && Graph.TryGetConstant(value, out var array) && array.ElementType is DataType.Int64 or DataType.Int32
            ? array.ToInt64s()
            : null;

    private static int Normalize(long axis, int rank) => (int)(axis < 0 ? axis + rank : axis);
}
