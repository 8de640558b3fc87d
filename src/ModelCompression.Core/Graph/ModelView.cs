using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph;

/// <summary>
/// The graph IR: a mutable view over a <see cref="ModelProto"/> and every graph in it (the main graph and
/// each If/Loop/Scan body). Rewrites edit the protobuf itself, so everything a view does not touch (doc
/// strings, metadata, value_info, unknown fields) survives. A pass makes one view per run.
/// </summary>
public sealed class ModelView
{
    private readonly Dictionary<GraphProto, GraphView> _views = new(ReferenceEqualityComparer.Instance);

    public ModelView(ModelProto model)
    {
        Proto = model;
        Names = new UniqueNames(model);
        Main = new GraphView(this, model.Graph, parent: null, owner: null);
        _views[model.Graph] = Main;
    }

    public ModelProto Proto { get; }

    public GraphView Main { get; }

    /// <summary>Fresh names for new values, initializers and nodes.</summary>
    public UniqueNames Names { get; }

    public long IrVersion => Proto.IrVersion;

    /// <summary>
    /// Before IR version 4 every initializer had to be listed among the graph inputs, and such inputs are
    /// constants; from version 4 an initializer that is also an input is only a default the caller may override.
    /// </summary>
    public bool InitializersMustBeInputs => IrVersion < 4;

    /// <summary>The imported version of an operator set (default: the ONNX domain); 0 when not imported.</summary>
    public int OpsetVersion(string domain = "")
    {
        foreach (var opset in Proto.OpsetImport)
        {
            var d = opset.Domain == "ai.onnx" ? "" : opset.Domain;
            if (d == domain) return (int)opset.Version;
        }
        return 0;
    }

    /// <summary>Every graph: the main graph first, then nested graphs depth first (a parent before its children).</summary>
    public IReadOnlyList<GraphView> Graphs()
    {
        var result = new List<GraphView>();
        void Visit(GraphView graph)
        {
            result.Add(graph);
            foreach (var node in graph.Nodes.ToList())
                foreach (var sub in graph.Subgraphs(node)) Visit(sub);
        }
        Visit(Main);
        return result;
    }

    /// <summary>Bumped by every change made through a view; views rebuild their indexes when it moves.</summary>
    internal int Version { get; private set; }

    internal void Changed() => Version++;

    internal GraphView ViewOf(GraphProto graph, GraphView parent, NodeProto owner)
    {
        if (!_views.TryGetValue(graph, out var view) || !ReferenceEquals(view.Owner, owner))
            _views[graph] = view = new GraphView(this, graph, parent, owner);
        return view;
    }
}
