using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Quantization;

/// <summary>
/// The reads of one weight tensor (one initializer of one graph, read by nodes of that graph or of its If/Loop
/// bodies), about to be redirected to a value computed from new initializers, e.g. Mul(Cast(int8 codes), scales).
/// The computation goes into the graph that holds the weight, before the first node that needs it, so every
/// reader (subgraphs included) sees it; ONNX Runtime folds such constant computations when the session loads.
/// </summary>
internal sealed class WeightReplacement
{
    private readonly IReadOnlyList<QuantizableWeight> _reads;
    private readonly NodeProto _anchor;

    private WeightReplacement(IReadOnlyList<QuantizableWeight> reads)
    {
        _reads = reads;
        Owner = reads[0].Owner!;
        _anchor = reads.Select(r => r.AnchorInOwner()).MinBy(Owner.PositionOf)!;
    }

    /// <summary>The weight slots reading this tensor.</summary>
    public IReadOnlyList<QuantizableWeight> Reads => _reads;

    /// <summary>The graph holding <see cref="Initializer"/>.</summary>
    public GraphView Owner { get; }

    public TensorProto Initializer => _reads[0].Initializer;

    /// <summary>The reads' common channel axis (reads are grouped by it).</summary>
    public int ChannelAxis => _reads[0].ChannelAxis;

    /// <summary>The distinct weight slots (node, input) served by this tensor.</summary>
    public int SlotCount => _reads.GroupBy(r => r.Node, ReferenceEqualityComparer.Instance).Sum(node => node.Select(r => r.InputIndex).Distinct().Count());

    /// <summary>
    /// Whether these reads are every read of <see cref="Initializer"/>, so that <see cref="Redirect"/> removes it from the
    /// file (otherwise a replacement adds bytes and removes none).
    /// </summary>
    public bool ReplacesInitializer => Owner.Consumers(Initializer.Name).All(use =>
        use.Node is not null && _reads.Any(r => ReferenceEquals(r.Read!.Node, use.Node) && r.Read.Input == use.Index));

    /// <summary>The distinct nodes whose weight slots read this tensor.</summary>
    public IReadOnlyList<NodeProto> Readers => _reads.Select(r => r.Node).Distinct(ReferenceEqualityComparer.Instance).Cast<NodeProto>().ToList();

    /// <summary>
    /// Groups weights found by <see cref="QuantizableWeight.Find(ModelView)"/> by the tensor they read and, when
    /// <paramref name="byChannelAxis"/>, by their channel axis too (a tensor read with two axes is quantized twice).
    /// </summary>
    public static IEnumerable<WeightReplacement> Group(IEnumerable<QuantizableWeight> weights, bool byChannelAxis) =>
        weights.GroupBy(w => (Owner: w.Owner!.Proto, w.Initializer.Name, Axis: byChannelAxis ? w.ChannelAxis : -1), KeyComparer.Instance)
            .Select(g => new WeightReplacement(g.ToList()));

    /// <summary>Adds a node computing part of the replacement, before every reader (in the order of the calls).</summary>
    public void AddNode(NodeProto node) => Owner.InsertBefore(_anchor, node);

    /// <summary>Makes every read use <paramref name="value"/>; drops the original initializer when nothing else reads it.</summary>
    public void Redirect(string value)
    {
        foreach (var read in _reads.Select(r => r.Read!)) read.Graph.SetInput(read.Node, read.Input, value);
        if (!Owner.IsUsed(Initializer.Name)) Owner.RemoveInitializer(Initializer.Name);
    }

    // Graphs compare by reference (two equal subgraphs are still two scopes).
    private sealed class KeyComparer : IEqualityComparer<(GraphProto Owner, string Name, int Axis)>
    {
        public static KeyComparer Instance { get; } = new();

        public bool Equals((GraphProto Owner, string Name, int Axis) x, (GraphProto Owner, string Name, int Axis) y) =>
            ReferenceEquals(x.Owner, y.Owner) && x.Name == y.Name && x.Axis == y.Axis;

        public int GetHashCode((GraphProto Owner, string Name, int Axis) key) =>
            HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Owner), key.Name, key.Axis);
    }
}
