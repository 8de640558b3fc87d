using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// Carries out the edits the dependency graph recorded for a set of removed channel ids: slices constants, shrinks
/// depthwise group counts, rewrites Reshape targets and value_info sizes, and drops the constants nobody reads any more.
/// </summary>
internal static class ChannelRemoval
{
    public static void Apply(ChannelDependencies deps, IReadOnlySet<int> removed)
    {
        var graph = deps.Graph;
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        bool[] Keep(int[] ids) => Array.ConvertAll(ids, id => id == ChannelLayout.Untracked || !removed.Contains(id));

        foreach (var slice in deps.Slices)
        {
            var keep = Keep(slice.Ids);
            if (keep.All(k => k)) continue;
            var name = slice.Node.Input[slice.Input];
            if (!graph.TryGetConstant(name, out var tensor))
                throw new InvalidOperationException($"'{name}' of {slice.Node.OpType} '{slice.Node.Name}' is no longer a readable constant.");
            replaced.Add(name);
            graph.SetConstantInput(slice.Node, slice.Input, KeepAlong(tensor, slice.Axis, keep), name);
        }
        foreach (var depthwise in deps.GroupAttributes)
            depthwise.Node.SetAttribute("group", (long)Keep(depthwise.Ids).Count(k => k));
        foreach (var entry in deps.ShapeEntries)
        {
            var keep = Keep(entry.Ids);
            if (keep.All(k => k)) continue;
            replaced.Add(Patch(graph, entry, keep.Count(k => k)));
        }
        foreach (var info in graph.Proto.ValueInfo)
            if (deps.Layouts.TryGetValue(info.Name, out var layout) && info.Type?.TensorType?.Shape is { } shape
                && layout.Axis < shape.Dim.Count && shape.Dim[layout.Axis].HasDimValue)
                shape.Dim[layout.Axis].DimValue = Keep(layout.Ids).Count(k => k);

        foreach (var name in replaced.Where(n => !graph.IsUsed(n)))
        {
            if (graph.Initializer(name) is not null) graph.RemoveInitializer(name);
            else if (graph.Producer(name) is { } constant && ConstantNodes.IsConstantNode(constant)) graph.RemoveNode(constant);
        }
    }

    /// <summary>The positions of <paramref name="axis"/> where <paramref name="keep"/> is true (bytes copied as they are).</summary>
    public static NdArray KeepAlong(NdArray tensor, int axis, bool[] keep)
    {
        var shape = tensor.Shape.ToArray();
        var element = ElementTypes.SizeOf(tensor.ElementType);
        var innerBytes = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d) * element;
        var outer = shape.Take(axis).Aggregate(1L, (a, d) => a * d);
        var kept = keep.Count(k => k);
        var data = new byte[outer * kept * innerBytes];
        var target = 0L;
        for (var o = 0L; o < outer; o++)
            for (var p = 0; p < keep.Length; p++)
            {
                if (!keep[p]) continue;
                Array.Copy(tensor.Data, (o * keep.Length + p) * innerBytes, data, target, innerBytes);
                target += innerBytes;
            }
        shape[axis] = kept;
        return new NdArray(tensor.ElementType, shape, data);
    }

    // Rewrites one Reshape target entry; returns the constant replaced.
    private static string Patch(GraphView graph, ShapeEntry entry, long size)
    {
        var name = entry.Reader.Input[entry.Input];
        if (!graph.TryGetConstant(name, out var constant))
            throw new InvalidOperationException($"The shape '{name}' of {entry.Reader.OpType} '{entry.Reader.Name}' is no longer a readable constant.");
        var values = constant.ToInt64s();
        values[entry.Element] = size;
        var patched = constant.ElementType == DataType.Int32
            ? NdArray.Create<int>(constant.Shape, Array.ConvertAll(values, v => (int)v))
            : NdArray.Create<long>(constant.Shape, values);
        graph.SetConstantInput(entry.Reader, entry.Input, patched, name);
        return name;
    }
}
