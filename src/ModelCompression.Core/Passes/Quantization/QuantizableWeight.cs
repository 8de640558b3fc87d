using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization;

/// <summary>
/// A constant float weight read by a node, and the axis of <see cref="Initializer"/> whose slices are natural scale
/// groups (the output channels). The weight slots, by operator:
/// <list type="table">
/// <item><term>Conv</term><description>input 1, W [M, C/group, k...]: axis 0</description></item>
/// <item><term>ConvTranspose</term><description>input 1, W [C, M/group, k...]: axis 1 (with groups, axis 1 holds the
/// output channels within each group; still a valid grouping for per-slice scales)</description></item>
/// <item><term>Gemm</term><description>input 1, B [K, N] (axis 1) or with transB [N, K] (axis 0)</description></item>
/// <item><term>MatMul</term><description>input 1, B [..., K, N]: the last axis</description></item>
/// <item><term>LSTM, GRU, RNN</term><description>inputs 1 (W) and 2 (R), [directions, gates·hidden, size]: axis 1</description></item>
/// <item><term>Gather</term><description>input 0, the table (embeddings): one scale per slice along the gathered axis</description></item>
/// </list>
/// A node qualifies only when its data input (the activation, or Gather's indices) is not constant: a node of
/// constants only is constant folding's business.
/// </summary>
public sealed record QuantizableWeight(NodeProto Node, int InputIndex, TensorProto Initializer, int ChannelAxis)
{
    /// <summary>The operator types that have weight slots.</summary>
    public static IReadOnlySet<string> OpTypes { get; } =
        new HashSet<string>(["Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN", "Gather"], StringComparer.Ordinal);

    /// <summary>The operators with one weight each that ONNX Runtime also has integer kernels for (QLinearConv, QGemm, MatMulInteger).</summary>
    public static IReadOnlySet<string> MatrixOpTypes { get; } = new HashSet<string>(["Conv", "Gemm", "MatMul"], StringComparer.Ordinal);

    /// <summary>
    /// The graph whose initializers hold <see cref="Initializer"/>: the node's own graph, or an enclosing graph when
    /// the node sits in an If/Loop body and reads the weight from outside. Set by <see cref="Find(GraphView, ShapeInference)"/>;
    /// null from <see cref="Find(GraphProto)"/>, which only finds the graph's own initializers.
    /// </summary>
    public GraphView? Owner { get; init; }

    /// <summary>The graph holding <see cref="Node"/>. Set by <see cref="Find(GraphView, ShapeInference)"/>; null from <see cref="Find(GraphProto)"/>.</summary>
    public GraphView? Graph { get; init; }

    /// <summary>
    /// Where <see cref="Initializer"/> is read: the slot itself, or, when the slot's value is computed from the
    /// initializer by layout operators only (Slice, Concat, Unsqueeze, Transpose..., e.g. an LSTM's gates reordered
    /// inside an If branch), the first of those. Set by <see cref="Find(GraphView, ShapeInference)"/>.
    /// </summary>
    public WeightRead? Read { get; init; }

    /// <summary>Whether the slot reads <see cref="Initializer"/> itself (not a value computed from it).</summary>
    public bool IsDirect => Read is null || ReferenceEquals(Read.Node, Node);

    /// <summary>
    /// The weights of <paramref name="graph"/>'s Conv, Gemm and MatMul nodes (<see cref="MatrixOpTypes"/>: at most one per
    /// node) that are initializers of <paramref name="graph"/> itself. For every slot, subgraphs included, use
    /// <see cref="Find(ModelView)"/>.
    /// </summary>
    public static IEnumerable<QuantizableWeight> Find(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var node in graph.Node.Where(n => MatrixOpTypes.Contains(n.OpType)))
            foreach (var slot in Slots(node))
            {
                if (!initializers.TryGetValue(node.Input[slot.Input], out var weight) || !IsFloat(weight)) continue;
                if (initializers.ContainsKey(node.InputOrEmpty(slot.Data))) continue;
                if (slot.Axis(weight.Dims.Count) is { } axis) yield return new QuantizableWeight(node, slot.Input, weight, axis);
            }
    }

    /// <summary>
    /// The weights of <paramref name="graph"/>'s nodes: constant initializers of this graph or of an enclosing one
    /// (a weight an If branch reads from outside), read directly or through layout operators (see <see cref="Read"/>).
    /// </summary>
    /// <param name="shapes">Shape inference of the model <paramref name="graph"/> belongs to (ranks of computed weights).</param>
    public static IEnumerable<QuantizableWeight> Find(GraphView graph, ShapeInference shapes)
    {
        foreach (var node in graph.Nodes)
            foreach (var slot in Slots(node))
            {
                var value = node.Input[slot.Input];
                if (value.Length == 0 || graph.IsConstant(node.InputOrEmpty(slot.Data))) continue;
                if (shapes.TypeOf(graph, value).Rank is not { } rank || slot.Axis(rank) is not { } axis) continue;
                foreach (var source in WeightSources.Trace(graph, value, axis, new WeightRead(graph, node, slot.Input), shapes))
                    if (IsFloat(source.Initializer))
                        yield return new QuantizableWeight(node, slot.Input, source.Initializer, source.Axis)
                        {
                            Owner = source.Owner,
                            Graph = graph,
                            Read = source.Read,
                        };
            }
    }

    /// <summary>Every weight of the model, subgraphs included (see <see cref="Find(GraphView, ShapeInference)"/>).</summary>
    public static IReadOnlyList<QuantizableWeight> Find(ModelView model)
    {
        var shapes = ShapeInference.Run(model);
        return model.Graphs().SelectMany(g => Find(g, shapes)).ToList();
    }

    /// <summary>
    /// The weights a pass can replace by a computed copy: those whose owner graph can take new initializers, of at
    /// least <paramref name="minElements"/> values (below that the replacement's nodes cost what they save).
    /// </summary>
    public static IReadOnlyList<QuantizableWeight> Replaceable(ModelView model, int minElements) =>
        Find(model).Where(w => w.Owner!.CanAddInitializers && TensorProtoConverter.ElementCount(w.Initializer) >= minElements).ToList();

    /// <summary>
    /// The node of <see cref="Owner"/> before which values derived from the weight can be computed: the reading node
    /// itself when it is in the owner graph, else the If/Loop node of the owner graph that (transitively) holds it.
    /// </summary>
    public NodeProto AnchorInOwner()
    {
        if (Owner is null || Read is null) throw new InvalidOperationException("The weight was found without its graphs: use Find(ModelView).");
        var anchor = Read.Node;
        for (var graph = Read.Graph; !ReferenceEquals(graph.Proto, Owner.Proto); graph = graph.Parent!)
            anchor = graph.Owner!;
        return anchor;
    }

    private static bool IsFloat(TensorProto weight) => weight.DataType == (int)DataType.Float;

    /// <summary>A weight input, the input whose constness disqualifies the node, and the channel axis for a weight of a given rank.</summary>
    private sealed record Slot(int Input, int Data, Func<int, int?> Axis);

    private static IEnumerable<Slot> Slots(NodeProto node)
    {
        if (!node.IsStandard()) yield break;
        switch (node.OpType)
        {
            case "Conv" when node.Input.Count >= 2:
                yield return new Slot(1, 0, rank => rank >= 1 ? 0 : null);
                break;
            case "ConvTranspose" when node.Input.Count >= 2:
                yield return new Slot(1, 0, rank => rank >= 2 ? 1 : null);
                break;
            case "Gemm" when node.Input.Count >= 2:
                yield return new Slot(1, 0, rank => rank == 2 ? node.GetInt("transB", 0) == 1 ? 0 : 1 : null);
                break;
            case "MatMul" when node.Input.Count >= 2:
                yield return new Slot(1, 0, rank => rank >= 2 ? rank - 1 : null);
                break;
            case "LSTM" or "GRU" or "RNN" when node.Input.Count >= 3:
                yield return new Slot(1, 0, rank => rank == 3 ? 1 : null);
                yield return new Slot(2, 0, rank => rank == 3 ? 1 : null);
                break;
            case "Gather" when node.Input.Count >= 2:
                var axis = node.GetInt("axis", 0);
                yield return new Slot(0, 1, rank => (axis < 0 ? axis + rank : axis) is var a && a >= 0 && a < rank ? (int)a : null);
                break;
        }
    }
}

/// <summary>Input <paramref name="Input"/> of <paramref name="Node"/>, a node of <paramref name="Graph"/>.</summary>
public sealed record WeightRead(GraphView Graph, NodeProto Node, int Input);
