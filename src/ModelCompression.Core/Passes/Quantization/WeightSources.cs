using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Quantization;

/// <summary>A constant initializer a weight slot's value comes from, its channel axis, and where it is read.</summary>
internal sealed record WeightSource(GraphView Owner, TensorProto Initializer, int Axis, WeightRead Read);

/// <summary>
/// Follows a weight slot's value back to the initializers it is made of. A weight is often not an initializer
/// itself but a layout of one: exporters reorder an LSTM's gates with Slice/Concat, add the direction axis with
/// Unsqueeze, or transpose a matrix, and constant folding cannot fold such a chain when it would copy a weight
/// two branches share (silero-vad). Quantizing the source initializer is then the same as quantizing the weight,
/// as long as every operator on the way only moves elements and each intermediate value feeds nothing else.
/// The channel axis is carried back through each operator.
/// </summary>
internal static class WeightSources
{
    private const int MaxDepth = 8;

    /// <param name="value">The slot's value as seen from <paramref name="graph"/>.</param>
    /// <param name="axis">The channel axis of <paramref name="value"/>.</param>
    /// <param name="read">The slot reading <paramref name="value"/>.</param>
    public static IEnumerable<WeightSource> Trace(GraphView graph, string value, int axis, WeightRead read, ShapeInference shapes) =>
        Trace(graph, value, axis, read, shapes, MaxDepth);

    private static IEnumerable<WeightSource> Trace(GraphView graph, string value, int axis, WeightRead read, ShapeInference shapes, int depth)
    {
        if (Definition(graph, value) is not var (definer, producer)) yield break;
        if (producer is null)
        {
            if (definer.Initializer(value) is { } initializer && definer.IsConstantInitializer(value))
                yield return new WeightSource(definer, initializer, axis, read);
            yield break;
        }
        // The chain must be the value's only use: quantizing its source must not change anything else.
        if (depth == 0 || definer.Consumers(value) is not [{ } only] || !ReferenceEquals(only.Node, read.Node)) yield break;
        if (producer.Output.Any(o => o != value && o.Length > 0 && definer.IsUsed(o))) yield break; // e.g. a Split's other parts
        foreach (var (input, inputAxis) in InputAxes(definer, producer, value, axis, shapes))
            foreach (var source in Trace(definer, producer.Input[input], inputAxis, new WeightRead(definer, producer, input), shapes, depth - 1))
                yield return source;
    }

    // The graph (this one or an enclosing one) defining `value`, and its producing node (null for an initializer or input).
    private static (GraphView Graph, NodeProto? Producer)? Definition(GraphView graph, string value)
    {
        for (var g = graph; g is not null; g = g.Parent)
        {
            if (g.Producer(value) is { } producer) return (g, producer);
            if (g.DefinesLocally(value)) return (g, null);
        }
        return null;
    }

    // For a layout operator: the data inputs and the axis of each that becomes `axis` of `output`. Empty when the
    // operator is not a pure layout of its data, its other inputs are not constant, or the axis does not map.
    private static IEnumerable<(int Input, int Axis)> InputAxes(GraphView graph, NodeProto node, string output, int axis, ShapeInference shapes)
    {
        if (!node.IsStandard()) return [];
        bool ConstantFrom(int first) => node.Input.Skip(first).All(i => i.Length == 0 || graph.IsConstant(i));
        int? Rank(string value) => shapes.TypeOf(graph, value).Rank;
        switch (node.OpType)
        {
            case "Identity":
                return [(0, axis)];
            case "Slice" or "Split" when ConstantFrom(1):
                return [(0, axis)];
            case "Concat":
                return Enumerable.Range(0, node.Input.Count).Select(i => (i, axis));
            case "Transpose" when Rank(output) is { } rank:
                var perm = node.GetInts("perm") ?? Enumerable.Range(0, rank).Reverse().Select(a => (long)a).ToArray();
                return axis < perm.Length ? [(0, (int)perm[axis])] : [];
            case "Unsqueeze" when ConstantFrom(1) && Rank(output) is { } outRank && Axes(graph, node) is { } inserted:
                var added = inserted.Select(a => a < 0 ? a + outRank : a).ToHashSet();
                return added.Contains(axis) ? [] : [(0, axis - added.Count(a => a < axis))];
            case "Squeeze" when ConstantFrom(1) && Rank(node.Input[0]) is { } inRank && Axes(graph, node) is { } removed:
                var kept = Enumerable.Range(0, inRank).Except(removed.Select(a => (int)(a < 0 ? a + inRank : a))).ToList();
                return axis < kept.Count ? [(0, kept[axis])] : [];
            default:
                return []; // Reshape, Flatten...: channels do not map one to one
        }
    }

    // Unsqueeze/Squeeze axes: an attribute before opset 13, the constant input 1 since.
    private static long[]? Axes(GraphView graph, NodeProto node) =>
        node.GetInts("axes") ?? (graph.TryGetConstant(node.InputOrEmpty(1), out var axes) ? axes.ToInt64s() : null);
}
