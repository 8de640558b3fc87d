using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph.Shapes;

/// <summary>
/// Static element types and shapes of every value of a model, subgraphs included: seeded from graph inputs,
/// initializers and value_info, and propagated through nodes by per-operator rules (<see cref="ShapeRules"/>).
/// What a rule cannot establish stays unknown; nothing is guessed. Used to decide rewrite legality, count
/// FLOPs and follow channels. The result describes the model as it was when inferred.
/// </summary>
public sealed class ShapeInference
{
    private readonly Dictionary<GraphProto, Dictionary<string, TensorType>> _types = new(ReferenceEqualityComparer.Instance);

    private ShapeInference(ModelView model)
    {
        Model = model;
        InferGraph(model.Main);
    }

    public ModelView Model { get; }

    public static ShapeInference Run(ModelView model) => new(model);

    public static ShapeInference Run(ModelProto model) => new(new ModelView(model));

    /// <summary>The type of <paramref name="value"/> as seen from <paramref name="graph"/> (enclosing graphs included).</summary>
    public TensorType TypeOf(GraphView graph, string value)
    {
        for (var g = graph; g is not null; g = g.Parent)
            if (_types.TryGetValue(g.Proto, out var types) && types.TryGetValue(value, out var type)) return type;
        return TensorType.Unknown;
    }

    /// <summary>The type of a value of the main graph.</summary>
    public TensorType TypeOf(string value) => TypeOf(Model.Main, value);

    private void InferGraph(GraphView graph)
    {
        var types = new Dictionary<string, TensorType>(StringComparer.Ordinal);
        _types[graph.Proto] = types;
        foreach (var initializer in graph.Proto.Initializer) types[initializer.Name] = TensorType.FromTensor(initializer);
        foreach (var input in graph.Proto.Input)
        {
            var declaredInput = TensorType.FromProto(input.Type);
            types[input.Name] = types.TryGetValue(input.Name, out var known) ? known.RefinedBy(declaredInput) : declaredInput;
        }

        var declared = new Dictionary<string, TensorType>(StringComparer.Ordinal);
        foreach (var info in graph.Proto.ValueInfo.Concat(graph.Proto.Output))
        {
            var type = TensorType.FromProto(info.Type);
            declared[info.Name] = declared.TryGetValue(info.Name, out var earlier) ? earlier.RefinedBy(type) : type;
        }

        IReadOnlyList<NodeProto> order;
        try { order = graph.TopologicalOrder(); }
        catch (InvalidOperationException) { order = graph.Nodes; } // a cyclic graph: infer what the stored order allows

        foreach (var node in order)
        {
            foreach (var sub in graph.Subgraphs(node)) InferGraph(sub);
            var inferred = ShapeRules.Infer(new NodeContext(node, graph, this));
            for (var i = 0; i < node.Output.Count; i++)
            {
                var name = node.Output[i];
                if (name.Length == 0) continue;
                var type = i < inferred.Count ? inferred[i] : TensorType.Unknown;
                if (declared.TryGetValue(name, out var declaredType)) type = type.RefinedBy(declaredType);
                types[name] = type;
            }
        }
    }
}

/// <summary>What a shape rule sees of one node: its inputs' types and constant values, attributes and opset.</summary>
public sealed class NodeContext(NodeProto node, GraphView graph, ShapeInference inference)
{
    public NodeProto Node { get; } = node;

    public GraphView Graph { get; } = graph;

    public ShapeInference Inference { get; } = inference;

    /// <summary>The version of the node's operator set imported by the model.</summary>
    public int Opset { get; } = graph.Model.OpsetVersion(node.IsStandard() ? "" : node.Domain);

    public bool HasInput(int index) => Node.InputOrEmpty(index).Length > 0;

    public TensorType Input(int index) => HasInput(index) ? Inference.TypeOf(Graph, Node.Input[index]) : TensorType.Unknown;

    /// <summary>The integer values of a constant input; null when the input is absent or not a constant integer tensor.</summary>
    public long[]? ConstantInts(int index)
    {
        if (!HasInput(index) || !Graph.TryGetConstant(Node.Input[index], out var array)) return null;
        return array.ElementType is DataType.Int64 or DataType.Int32 ? array.ToInt64s() : null;
    }
}
