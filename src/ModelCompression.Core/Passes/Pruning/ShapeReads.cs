using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// A <c>Shape</c> of a value that carries channels is harmless when the channel count never leaves it: exporters
/// often take the batch size this way (Shape → Slice [0:1] → Concat into a Reshape target). The shape vector is
/// followed through Cast; a Slice or Gather that selects other entries ends the question. Anything else may compute
/// with the channel count, which pruning would change behind its back.
/// </summary>
internal static class ShapeReads
{
    /// <summary>Why the channel count of axis <paramref name="axis"/> is read through <paramref name="shape"/>; null when it is not.</summary>
    public static string? WhyChannelCountIsRead(GraphView graph, NodeProto shape, int axis, int? rank)
    {
        if (rank is null) return $"has its shape taken by Shape '{shape.Name}' with an unknown rank";
        long start = 0, end = rank.Value;
        if (graph.Model.OpsetVersion() >= 15)
        {
            start = Clamp(shape.GetInt("start", 0), rank.Value);
            end = Clamp(shape.GetInt("end", rank.Value), rank.Value);
        }
        if (axis < start || axis >= end) return null;
        return Follow(graph, shape.OutputOrEmpty(0), axis - start, Math.Max(0, end - start), depth: 0);
    }

    private static string? Follow(GraphView graph, string value, long index, long length, int depth)
    {
        if (value.Length == 0) return null;
        foreach (var use in graph.Consumers(value))
        {
            if (use.Node is not { } reader || use.IsInSubgraph || use.Index != 0 || !reader.IsStandard() || depth > 16)
                return $"has its channel count read through '{value}'";
            var kept = reader.OpType switch
            {
                "Cast" => Follow(graph, reader.OutputOrEmpty(0), index, length, depth + 1) is null ? [] : null,
                "Slice" => SliceIndices(graph, reader, length),
                "Gather" => GatherIndices(graph, reader, length),
                _ => null,
            };
            if (kept is null || kept.Contains(index)) return $"has its channel count read by {reader.OpType} '{reader.Name}'";
        }
        return null;
    }

    // The elements of a 1-D vector of `length` a Slice keeps; null when its parameters are computed at run time.
    private static long[]? SliceIndices(GraphView graph, NodeProto slice, long length)
    {
        long[]? starts, ends, axes, steps = null;
        if (graph.Model.OpsetVersion() < 10) (starts, ends, axes) = (slice.GetInts("starts"), slice.GetInts("ends"), slice.GetInts("axes"));
        else
        {
            (starts, ends) = (Ints(graph, slice.InputOrEmpty(1)), Ints(graph, slice.InputOrEmpty(2)));
            axes = slice.InputOrEmpty(3).Length > 0 ? Ints(graph, slice.Input[3]) ?? [-99] : null;
            steps = slice.InputOrEmpty(4).Length > 0 ? Ints(graph, slice.Input[4]) ?? [0] : null;
        }
        if (starts is not [var start] || ends is not [var end] || axes is not (null or [0] or [-1]) || steps is not (null or [not 0])) return null;
        var step = steps?[0] ?? 1;
        if (start < 0) start += length;
        if (end < 0) end += length;
        var result = new List<long>();
        if (step > 0)
            for (var i = Math.Clamp(start, 0, length); i < Math.Clamp(end, 0, length); i += step) result.Add(i);
        else
            for (var i = Math.Clamp(start, 0, length - 1); i > Math.Clamp(end, -1, length - 1); i += step) result.Add(i);
        return result.ToArray();
    }

    private static long[]? GatherIndices(GraphView graph, NodeProto gather, long length) =>
        gather.GetInt("axis", 0) is 0 or -1 && Ints(graph, gather.InputOrEmpty(1)) is { } indices
            ? indices.Select(i => i < 0 ? i + length : i).ToArray()
            : null;

    private static long[]? Ints(GraphView graph, string value) =>
        value.Length > 0 && graph.TryGetConstant(value, out var array) && array.ElementType is DataType.Int64 or DataType.Int32
            ? array.ToInt64s()
            : null;

    private static long Clamp(long v, long rank) => Math.Clamp(v < 0 ? v + rank : v, 0, rank);
}
