using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Statistics;

/// <summary>
/// Counts parameters as logical weight elements, whatever form the weights are stored in. A layer's weight and bias
/// slots (<see cref="SlotsOf"/>) count the elements of the value the layer reads when that value is computed from
/// constants only: a float weight, a DequantizeLinear or Cast·Mul of int8 codes, a float16 Cast, a palette lookup
/// all count the weight's elements once, and the constants they are made of (codes, scales, zero points, tables)
/// are used up (see <see cref="Claim"/> for weights read by several slots). MatMulNBits counts K·N. Quantization
/// metadata of the integer operators (activation scales and zero points) is used up without counting. Every float constant left over (initializers and Constant nodes, in every
/// graph: e.g. a LayerNorm's scale read by a Mul) counts its elements; integer constants left over are shapes,
/// axes and indices, not parameters.
/// </summary>
internal sealed class ParameterCounter
{
    private readonly ShapeInference _shapes;
    private readonly Dictionary<GraphProto, int> _graphIndex = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<Leaf> _usedUp = [];
    private readonly Dictionary<Leaf, (long Budget, long Used)> _sourceBudgets = [];
    private readonly Dictionary<(int Graph, string Value), IReadOnlyList<Leaf>?> _sources = [];

    private ParameterCounter(ShapeInference shapes)
    {
        _shapes = shapes;
        foreach (var graph in shapes.Model.Graphs()) _graphIndex[graph.Proto] = _graphIndex.Count;
    }

    /// <summary>A constant: an initializer (dense or sparse) or Constant node output of one graph, with its element count and type.</summary>
    private sealed record Leaf(int Graph, string Name, long Elements, DataType ElementType)
    {
        public string Key => $"{Graph}:{Name}";
    }

    /// <summary>The parameters of each layer that has any, and the total (layers plus float constants left over).</summary>
    public static (IReadOnlyDictionary<NodeProto, long> PerLayer, long Total) Count(ShapeInference shapes)
    {
        var counter = new ParameterCounter(shapes);
        var perLayer = new Dictionary<NodeProto, long>(ReferenceEqualityComparer.Instance);
        foreach (var graph in shapes.Model.Graphs())
            foreach (var node in graph.Nodes)
            {
                var count = counter.CountLayer(node, graph);
                if (count > 0) perLayer[node] = count;
            }
        var leftover = shapes.Model.Graphs().SelectMany(counter.Constants).Where(l => IsFloat(l.ElementType) && !counter._usedUp.Contains(l)).Sum(l => l.Elements);
        return (perLayer, perLayer.Values.Sum() + leftover);
    }

    private long CountLayer(NodeProto node, GraphView graph)
    {
        var (weights, metadata) = SlotsOf(node, graph);
        long count = 0;
        foreach (var input in metadata)
            if (Sources(graph, node.InputOrEmpty(input)) is { } leaves) _usedUp.UnionWith(leaves);
        foreach (var input in weights)
        {
            var value = node.InputOrEmpty(input);
            if (Sources(graph, value) is not { Count: > 0 } leaves) continue;
            if (node.OpType == "Gather" && !IsFloat(_shapes.TypeOf(graph, value).ElementType)) continue; // a lookup of shapes or indices
            // Constant indices: a step of a constant computation (a palette's or a sparse weight's expansion), which
            // the layer reading its result counts; an embedding table is looked up with run-time indices.
            if (node.OpType == "Gather" && Sources(graph, node.InputOrEmpty(1)) is not null) continue;
            count += Claim(leaves, _shapes.TypeOf(graph, value).KnownShape?.Aggregate(1L, (a, d) => a * d));
        }
        if (node.OpType == "MatMulNBits" && node.Domain == CountingShapes.MicrosoftDomain && Sources(graph, node.InputOrEmpty(1)) is { Count: > 0 } packed)
            count += Claim(packed, node.GetInt("K", 0) * node.GetInt("N", 0));
        return count;
    }

    /// <summary>
    /// Uses up a slot's constants and returns the elements it counts. Slots are told apart by their largest constant
    /// (the weight; the others are scales, slice bounds...): the first slot reading it counts its own elements, later
    /// ones (the same weight shared, or reordered for another node) only what the weight holds beyond what was
    /// counted already, so parts of one weight (e.g. a fused QKV matrix sliced three ways) count once each.
    /// </summary>
    private long Claim(IReadOnlyList<Leaf> leaves, long? slotElements)
    {
        _usedUp.UnionWith(leaves);
        var weight = leaves.OrderByDescending(l => l.Elements).ThenBy(l => l.Key, StringComparer.Ordinal).First();
        var elements = slotElements ?? weight.Elements;
        var (budget, used) = _sourceBudgets.TryGetValue(weight, out var known) ? known : (Math.Max(weight.Elements, elements), 0L);
        var claimed = Math.Min(elements, budget - used);
        _sourceBudgets[weight] = (budget, used + claimed);
        return claimed;
    }

    /// <summary>
    /// The inputs of <paramref name="node"/> that hold its weights and biases, and those that hold quantization
    /// metadata (scales, zero points, packed-weight side tables).
    /// </summary>
    private static (int[] Weights, int[] Metadata) SlotsOf(NodeProto node, GraphView graph)
    {
        if (node.Domain == CountingShapes.MicrosoftDomain)
            return node.OpType switch
            {
                "MatMulNBits" => ([5], [1, 2, 3, 4]), // B itself counts K·N, not its packed bytes
                "MatMulIntegerToFloat" => ([1, 6], [2, 3, 4, 5]),
                "DynamicQuantizeMatMul" => ([1, 4], [2, 3]),
                _ => ([], []),
            };
        if (!node.IsStandard()) return ([], []);
        return node.OpType switch
        {
            "Conv" or "ConvTranspose" or "Gemm" => ([1, 2], []),
            "MatMul" => ([1], []),
            "LSTM" => ([1, 2, 3, 7], []),
            "GRU" or "RNN" => ([1, 2, 3], []),
            "Gather" => ([0], []),
            "QLinearConv" => ([3, 8], [1, 2, 4, 5, 6, 7]),
            "QLinearMatMul" => ([3], [1, 2, 4, 5, 6, 7]),
            "ConvInteger" or "MatMulInteger" => ([1], [2, 3]),
            "QuantizeLinear" or "DequantizeLinear" => ([], [1, 2]),
            // Dynamic int8's rescale: Mul(activation scale from DynamicQuantizeLinear, weight scales).
            "Mul" when ScaleOfDynamicQuantization(graph, node.InputOrEmpty(0)) => ([], [1]),
            "Mul" when ScaleOfDynamicQuantization(graph, node.InputOrEmpty(1)) => ([], [0]),
            _ => ([], []),
        };
    }

    private static bool ScaleOfDynamicQuantization(GraphView graph, string value) =>
        value.Length > 0 && graph.Producer(value) is { OpType: "DynamicQuantizeLinear" } producer && producer.OutputOrEmpty(1) == value;

    /// <summary>
    /// The constants <paramref name="value"/> is computed from, seen from <paramref name="graph"/> (enclosing graphs
    /// included); null when it depends on anything else (a graph input, a node without inputs other than Constant, a
    /// subgraph).
    /// </summary>
    private IReadOnlyList<Leaf>? Sources(GraphView graph, string value)
    {
        if (value.Length == 0) return null;
        var key = (_graphIndex[graph.Proto], value);
        if (_sources.TryGetValue(key, out var known)) return known;
        _sources[key] = null; // a cycle is not constant
        return _sources[key] = Trace(graph, value);
    }

    private IReadOnlyList<Leaf>? Trace(GraphView graph, string value)
    {
        for (var g = graph; g is not null; g = g.Parent)
        {
            var index = _graphIndex[g.Proto];
            if (g.Initializer(value) is { } initializer)
                return [new Leaf(index, value, TensorProtoConverter.ElementCount(initializer), (DataType)initializer.DataType)];
            if (g.Proto.SparseInitializer.FirstOrDefault(s => s.Values?.Name == value) is { } sparse)
                return [new Leaf(index, value, sparse.Dims.Aggregate(1L, (a, d) => a * d), (DataType)sparse.Values.DataType)];
            if (g.Producer(value) is { } producer)
            {
                if (ConstantSize(producer) is var (elements, type))
                    return [new Leaf(index, value, elements, type)];
                if (OnnxWalk.SubgraphsOf(producer).Any() || producer.Input.All(i => i.Length == 0)) return null;
                var leaves = new List<Leaf>();
                foreach (var input in producer.Input.Where(i => i.Length > 0))
                {
                    if (Sources(g, input) is not { } inputLeaves) return null;
                    leaves.AddRange(inputLeaves);
                }
                return leaves.Distinct().ToList();
            }
            if (g.IsGraphInput(value)) return null;
        }
        return null;
    }

    private IEnumerable<Leaf> Constants(GraphView graph)
    {
        var index = _graphIndex[graph.Proto];
        foreach (var t in graph.Proto.Initializer) yield return new Leaf(index, t.Name, TensorProtoConverter.ElementCount(t), (DataType)t.DataType);
        foreach (var s in graph.Proto.SparseInitializer.Where(s => s.Values is not null))
            yield return new Leaf(index, s.Values.Name, s.Dims.Aggregate(1L, (a, d) => a * d), (DataType)s.Values.DataType);
        foreach (var node in graph.Nodes)
            if (ConstantSize(node) is var (elements, type))
                yield return new Leaf(index, node.Output[0], elements, type);
    }

    // A Constant node's element count and type, without copying a tensor value.
    private static (long Elements, DataType Type)? ConstantSize(NodeProto node)
    {
        if (!ConstantNodes.IsConstantNode(node) || node.Output.Count != 1 || node.Attribute.Count != 1) return null;
        if (node.Attribute[0] is { Name: "value", T: { } tensor }) return (TensorProtoConverter.ElementCount(tensor), (DataType)tensor.DataType);
        return ConstantNodes.ValueOf(node) is { } value ? (TensorProtoConverter.ElementCount(value), (DataType)value.DataType) : null;
    }

    private static bool IsFloat(DataType type) => type is DataType.Float or DataType.Float16 or DataType.Double or DataType.Bfloat16;
}
