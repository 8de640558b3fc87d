using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// The dependency graph of a model's output channels (as torch-pruning's DepGraph, over ONNX). Every Conv, Gemm
/// and MatMul with constant weights in the main graph is a producer of fresh channel ids; <see cref="ChannelRules"/>
/// follows them forward through the graph in topological order, recording where each value carries which channels
/// (<see cref="ChannelLayout"/>), which positions must be removed together (union of classes: a residual Add joins its
/// operands' channels position by position), what must be sliced or rewritten when a channel goes (weights, biases,
/// constant operands, depthwise group counts, Reshape targets), and what cannot be followed (unknown operators, graph
/// outputs, subgraph reads, unknown shapes), which refuses the channels concerned. Groups are the connected sets of
/// producers; a group is pruned whole or not at all.
/// </summary>
internal sealed class ChannelDependencies
{
    private readonly List<Producer> _producers = [];
    private readonly List<int> _producerOfId = [];
    private readonly Dictionary<string, ChannelLayout> _layouts = new(StringComparer.Ordinal);
    private readonly List<TensorSlice> _slices = [];
    private readonly List<GroupAttribute> _groupAttributes = [];
    private readonly List<ShapeEntry> _shapeEntries = [];
    private readonly Dictionary<NodeProto, int> _position = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, string> _blocked = new(StringComparer.Ordinal);

    private ChannelDependencies(ModelView view)
    {
        View = view;
        Shapes = ShapeInference.Run(view);
        var order = Graph.TopologicalOrder();
        for (var i = 0; i < order.Count; i++) _position[order[i]] = i;
        var rules = new ChannelRules(this);
        foreach (var node in order) rules.Visit(node);
        FixEscapingValues();
        Groups = BuildGroups();
    }

    public static ChannelDependencies Build(ModelView view) => new(view);

    public ModelView View { get; }

    public GraphView Graph => View.Main;

    public ShapeInference Shapes { get; }

    public ChannelClasses Classes { get; } = new();

    public IReadOnlyDictionary<string, ChannelLayout> Layouts => _layouts;

    public IReadOnlyList<TensorSlice> Slices => _slices;

    public IReadOnlyList<GroupAttribute> GroupAttributes => _groupAttributes;

    public IReadOnlyList<ShapeEntry> ShapeEntries => _shapeEntries;

    public IReadOnlyList<GroupChannels> Groups { get; }

    /// <summary>A node's position in the topological order the graph was followed in.</summary>
    public int PositionOf(NodeProto node) => _position.TryGetValue(node, out var p) ? p : int.MaxValue;

    // ---------------------------------------------------------------- recording (used by the rules)

    public ChannelLayout? LayoutOf(string value) => value.Length > 0 && _layouts.TryGetValue(value, out var layout) ? layout : null;

    public void SetLayout(string value, ChannelLayout layout)
    {
        if (value.Length == 0 || !layout.Channels.Any()) return;
        var declared = Shapes.TypeOf(Graph, value).Dims;
        if (declared is not null && (layout.Axis >= declared.Count || declared[layout.Axis].Value is { } size && size != layout.Length))
        {
            var reason = $"'{value}' has {(layout.Axis < declared.Count ? declared[layout.Axis].ToString() : "no")} positions on axis {layout.Axis} where {layout.Length} channels were expected";
            Fix(layout, reason);
            Block(value, reason);
            return;
        }
        _layouts[value] = layout;
    }

    /// <summary>New channel ids for <paramref name="node"/>'s output <paramref name="value"/> along <paramref name="axis"/>.</summary>
    public ChannelLayout NewProducer(NodeProto node, string value, int axis, int count)
    {
        var first = Classes.Allocate(count);
        var index = _producers.Count;
        _producers.Add(new Producer(node, first, count));
        for (var i = 0; i < count; i++) _producerOfId.Add(index);
        var layout = new ChannelLayout(axis, Enumerable.Range(first, count).ToArray());
        SetLayout(value, layout);
        return layout;
    }

    /// <summary>The channels at the same positions of two values are the same channels from now on.</summary>
    public void Couple(int[] a, int[] b, string reasonIfUntracked)
    {
        for (var p = 0; p < a.Length; p++)
        {
            if (a[p] == ChannelLayout.Untracked && b[p] == ChannelLayout.Untracked) continue;
            if (a[p] == ChannelLayout.Untracked) Classes.Fix(b[p], reasonIfUntracked);
            else if (b[p] == ChannelLayout.Untracked) Classes.Fix(a[p], reasonIfUntracked);
            else Classes.Union(a[p], b[p]);
        }
    }

    public void Fix(ChannelLayout layout, string reason)
    {
        foreach (var id in layout.Channels) Classes.Fix(id, reason);
    }

    /// <summary>
    /// Marks a value computed from refused channels: it still has them, unpruned, so whatever it meets later is
    /// refused with this (the root) reason instead of a vaguer one.
    /// </summary>
    public void Block(string value, string reason)
    {
        if (value.Length > 0) _blocked.TryAdd(value, reason);
    }

    public string? BlockedBecause(string value) => _blocked.GetValueOrDefault(value);

    public void Slice(NodeProto node, int input, int axis, int[] ids, bool isWeight = false)
    {
        if (!ids.Any(id => id != ChannelLayout.Untracked)) return;
        _slices.Add(new TensorSlice(node, input, axis, ids, isWeight));
    }

    public void ShrinkGroupAttribute(NodeProto node, int[] ids) => _groupAttributes.Add(new GroupAttribute(node, ids));

    public void PatchShapeEntry(ShapeEntry entry) => _shapeEntries.Add(entry);

    // ---------------------------------------------------------------- results

    // Graph outputs are the model's interface and subgraphs are not followed: channels reaching either stay.
    private void FixEscapingValues()
    {
        foreach (var (value, layout) in _layouts)
            foreach (var use in Graph.Consumers(value))
            {
                if (use.IsGraphOutput) Fix(layout, $"'{value}' is a graph output (the model's interface keeps its shape)");
                else if (use.IsInSubgraph) Fix(layout, $"'{value}' is read inside a subgraph of {use.Holder!.OpType} '{use.Holder.Name}'");
            }
    }

    private List<GroupChannels> BuildGroups()
    {
        // Producers sharing a class are one group (union-find over producer indices).
        var parent = Enumerable.Range(0, _producers.Count).ToArray();
        int Find(int p) => parent[p] == p ? p : parent[p] = Find(parent[p]);
        for (var id = 0; id < Classes.Count; id++)
        {
            var (a, b) = (Find(_producerOfId[id]), Find(_producerOfId[Classes.Find(id)]));
            if (a != b) parent[Math.Max(a, b)] = Math.Min(a, b);
        }

        var reasons = new Dictionary<int, string>();
        foreach (var (id, reason) in Classes.Fixed) reasons.TryAdd(Find(_producerOfId[id]), reason);

        var groups = new List<GroupChannels>();
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var root in Enumerable.Range(0, _producers.Count).Where(p => Find(p) == p))
        {
            var members = Enumerable.Range(0, _producers.Count).Where(p => Find(p) == root).Select(p => _producers[p]).ToList();
            // Classes in the order of their first channel in the first producer, then the next producer's new ones.
            var classes = new List<int>();
            var seen = new HashSet<int>();
            foreach (var producer in members)
                for (var id = producer.FirstId; id < producer.FirstId + producer.Count; id++)
                    if (seen.Add(Classes.Find(id))) classes.Add(Classes.Find(id));
            // Named after the first producer; by its output (unique in SSA form) when the node is unnamed or its name repeats.
            var name = members[0].Node.Name;
            if (name.Length == 0 || !ids.Add(name)) ids.Add(name = members[0].Node.Output[0]);
            groups.Add(new GroupChannels(name, members.Select(m => m.Node).ToList(), classes, reasons.GetValueOrDefault(root)));
        }
        return groups;
    }

    private sealed record Producer(NodeProto Node, int FirstId, int Count);
}

/// <summary>One group: its producers, its channel classes (class root ids, in a stable order), and why it is refused.</summary>
internal sealed record GroupChannels(string Id, IReadOnlyList<NodeProto> Producers, IReadOnlyList<int> Classes, string? RefusedBecause);
