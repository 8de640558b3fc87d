using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// Flatten and Reshape: where the channel axis goes when axes are merged. Channels survive a reshape when the axis
/// carrying them is merged, whole, with neighbouring axes into one output axis (C×H×W → C·H·W features, or kept as
/// is): channel c then owns a block of positions of that axis, and pruning it removes the block (the Gemm after a
/// Flatten loses H·W rows per channel). A reshape that splits the channel axis, or merges it with an axis of unknown
/// size, is refused. A Reshape's target shape is read back to its constants (through Concat and Cast), so the entry
/// that names the merged axis's size can be rewritten; an entry computed at run time for that axis is refused.
/// </summary>
internal static class ReshapeRules
{
    public static void Flatten(ChannelDependencies deps, NodeProto node, ChannelLayout?[] tracked)
    {
        var dims = deps.Shapes.TypeOf(deps.Graph, node.Input[0]).Dims;
        if (tracked[0] is not { } x || dims is null)
        {
            Refuse(deps, node, tracked, "its input's rank is unknown");
            return;
        }
        var axis = (int)node.GetInt("axis", 1);
        if (axis < 0) axis += dims.Count;
        var (start, end, outputAxis) = x.Axis >= axis ? (axis, dims.Count, 1) : (0, axis, 0);
        if (Merge(x, dims, start, end) is not { } ids)
        {
            Refuse(deps, node, tracked, "it merges the channel axis with axes of unknown size");
            return;
        }
        deps.SetLayout(node.Output[0], new ChannelLayout(outputAxis, ids));
    }

    public static void Reshape(ChannelDependencies deps, NodeProto node, ChannelLayout?[] tracked)
    {
        if (tracked[0] is not { } x || tracked.Skip(1).Any(t => t is not null))
        {
            Refuse(deps, node, tracked, "it reads channels as its target shape");
            return;
        }
        if (Map(deps, node, x) is { } why) Refuse(deps, node, tracked, why);
    }

    // Records the output layout and the target entry to rewrite; returns why not when the mapping cannot be proved.
    private static string? Map(ChannelDependencies deps, NodeProto node, ChannelLayout x)
    {
        var graph = deps.Graph;
        var dims = deps.Shapes.TypeOf(graph, node.Input[0]).Dims;
        var input = dims?.Select(Size.Of).ToArray();
        if (dims is null || input is null || input.Any(s => s is null)) return "its input's shape is not known";
        var entries = TargetEntries(deps, node);
        if (entries is null) return "its target shape cannot be read back to constants";
        var allowZero = graph.Model.OpsetVersion() >= 14 && node.GetInt("allowzero", 0) != 0;

        // Output sizes: literals, 0 = the input's size there, one -1 or run-time entry = whatever remains.
        var output = new Size?[entries.Count];
        var remainder = -1;
        for (var i = 0; i < entries.Count; i++)
        {
            var value = entries[i].Value;
            if (value is null or -1)
            {
                if (remainder >= 0) return "two entries of its target shape are unknown";
                remainder = i;
            }
            else if (value == 0 && !allowZero && i < input.Length) output[i] = input[i];
            else if (value > 0) output[i] = new Size(value.Value, "");
            else return $"its target shape has entry {value}";
        }
        var total = Size.Product(input.Select(s => s!));
        if (remainder >= 0)
            output[remainder] = total.Over(Size.Product(output.Where((_, i) => i != remainder).Select(s => s!)));
        if (output.Any(s => s is null)) return "its output sizes cannot be inferred";

        // The smallest run of input axes around the channel axis whose product equals one run of output axes.
        var inPrefix = Prefixes(input.Select(s => s!).ToArray());
        var outPrefix = Prefixes(output.Select(s => s!).ToArray());
        var t = x.Axis;
        var start = Enumerable.Range(0, t + 1).Reverse().FirstOrDefault(a => Array.LastIndexOf(outPrefix, inPrefix[a]) >= 0, -1);
        if (start < 0) return "its output axes do not line up with its input axes";
        var first = Array.LastIndexOf(outPrefix, inPrefix[start]);
        var end = -1;
        var last = -1;
        for (var a = t + 1; a <= input.Length && end < 0; a++)
            for (var b = first + 1; b < outPrefix.Length; b++)
                if (outPrefix[b] == inPrefix[a])
                {
                    (end, last) = (a, b);
                    break;
                }
        if (end < 0 || last != first + 1) return "it splits the channel axis over several output axes";
        if (Merge(x, dims, start, end) is not { } ids) return "it merges the channel axis with axes of unknown size";

        var entry = entries[first];
        var copiesChannelAxis = entry.Value == 0 && first == t && ids.Length == x.Length;
        if (entry.Value is null) return "the size of the output axis holding channels is computed at run time";
        if (entry.Value > 0)
        {
            if (entry.Reader is null) return "the size of the output axis holding channels is not a constant";
            deps.PatchShapeEntry(new ShapeEntry(entry.Reader, entry.Input, entry.Element, ids));
        }
        else if (entry.Value == 0 && !copiesChannelAxis) return "its target copies an input size that pruning changes into another axis";
        deps.SetLayout(node.Output[0], new ChannelLayout(first, ids));
        return null;
    }

    /// <summary>
    /// The channel ids along the axis that merges input axes [<paramref name="start"/>, <paramref name="end"/>)
    /// (row-major: each channel's id repeats over the positions of the later axes, the whole pattern over the earlier
    /// ones); null when a merged size other than the channel axis is unknown.
    /// </summary>
    private static int[]? Merge(ChannelLayout x, IReadOnlyList<Dim> dims, int start, int end)
    {
        long outer = 1, inner = 1;
        for (var i = start; i < end; i++)
        {
            if (i == x.Axis) continue;
            if (dims[i].Value is not { } size) return null;
            if (i < x.Axis) outer *= size;
            else inner *= size;
        }
        var ids = new int[outer * x.Length * inner];
        var p = 0;
        for (var o = 0L; o < outer; o++)
            foreach (var id in x.Ids)
                for (var i = 0L; i < inner; i++) ids[p++] = id;
        return ids;
    }

    private static Size[] Prefixes(Size[] sizes)
    {
        var prefixes = new Size[sizes.Length + 1];
        prefixes[0] = Size.One;
        for (var i = 0; i < sizes.Length; i++) prefixes[i + 1] = prefixes[i].Times(sizes[i]);
        return prefixes;
    }

    private static void Refuse(ChannelDependencies deps, NodeProto node, ChannelLayout?[] tracked, string why) =>
        ChannelRules.Refuse(deps, node, tracked, why);

    // ---------------------------------------------------------------- target shape entries

    /// <summary>One entry of a target shape: its value (null when computed at run time) and the constant it comes from.</summary>
    private sealed record Entry(long? Value, NodeProto? Reader, int Input, int Element);

    // Before opset 5 the target was an attribute; ONNX Runtime runs opset 7 and later only, so such models never get here.
    private static List<Entry>? TargetEntries(ChannelDependencies deps, NodeProto reshape) =>
        deps.Graph.Model.OpsetVersion() < 5 ? null : Trace(deps, reshape, 1, depth: 0);

    // Follows a 1-D integer tensor back through Concat and Cast to constants; run-time pieces become unknown entries.
    private static List<Entry>? Trace(ChannelDependencies deps, NodeProto reader, int input, int depth)
    {
        var graph = deps.Graph;
        var value = reader.InputOrEmpty(input);
        if (value.Length == 0 || depth > 16) return null;
        if (graph.TryGetConstant(value, out var constant))
        {
            if (constant.Rank > 1 || constant.ElementType is not (DataType.Int64 or DataType.Int32)) return null;
            return constant.ToInt64s().Select((v, i) => new Entry(v, reader, input, i)).ToList();
        }
        var producer = graph.Producer(value);
        if (producer is { OpType: "Cast" } && producer.IsStandard()) return Trace(deps, producer, 0, depth + 1);
        if (producer is { OpType: "Concat" } && producer.IsStandard() && producer.GetInt("axis", 0) is 0 or -1)
        {
            var entries = new List<Entry>();
            for (var i = 0; i < producer.Input.Count; i++)
            {
                if (Trace(deps, producer, i, depth + 1) is not { } piece) return null;
                entries.AddRange(piece);
            }
            return entries;
        }
        return deps.Shapes.TypeOf(graph, value).KnownShape is [var length]
            ? Enumerable.Repeat(new Entry(null, null, 0, 0), (int)length).ToList()
            : null;
    }

    /// <summary>A product of known sizes and named dimensions (e.g. N·200), enough to match a batch axis symbolically.</summary>
    private sealed record Size(long Known, string Symbols)
    {
        private const char Separator = '\n';

        public static Size One { get; } = new(1, "");

        public static Size? Of(Dim dim) => dim.Value is { } v ? new Size(v, "") : dim.Symbol is { } s ? new Size(1, s) : null;

        public static Size Product(IEnumerable<Size> sizes) => sizes.Aggregate(One, (a, b) => a.Times(b));

        public Size Times(Size other) => new(Known * other.Known, Join(Split(Symbols).Concat(Split(other.Symbols))));

        public Size? Over(Size other)
        {
            if (other.Known == 0 || Known % other.Known != 0) return null;
            var symbols = Split(Symbols).ToList();
            foreach (var symbol in Split(other.Symbols))
                if (!symbols.Remove(symbol)) return null;
            return new Size(Known / other.Known, Join(symbols));
        }

        private static IEnumerable<string> Split(string symbols) => symbols.Split(Separator, StringSplitOptions.RemoveEmptyEntries);

        private static string Join(IEnumerable<string> symbols) => string.Join(Separator, symbols.Order(StringComparer.Ordinal));
    }
}
