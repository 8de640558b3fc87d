using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Removes nodes whose outputs nothing reads and initializers nothing reads, in every graph. Reads from
/// nested subgraphs count: a value used only inside an If branch or a Loop body is used. Nested graphs are
/// cleaned first, so what they stop reading can die in the outer graph in the same run. Graph inputs, and
/// initializers that are also graph inputs (overridable defaults, IR ≥ 4), are the interface and stay.
/// Stale value_info entries are dropped along the way.
/// </summary>
public sealed class DeadCodeElimination : IGraphPass
{
    public string Name => "remove-dead-code";

    public int Apply(ModelProto model) => Sweep(new ModelView(model).Main);

    private static int Sweep(GraphView graph)
    {
        var removed = 0;
        foreach (var node in graph.Nodes.ToList())
            foreach (var sub in graph.Subgraphs(node)) removed += Sweep(sub);

        // Walk back from the outputs: a node is live when something live reads one of its outputs.
        var read = new HashSet<string>(graph.Proto.Output.Select(o => o.Name), StringComparer.Ordinal);
        var order = graph.TopologicalOrder();
        var dead = new List<NodeProto>();
        for (var i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            if (!node.Output.Any(o => o.Length > 0 && read.Contains(o)))
            {
                dead.Add(node);
                continue;
            }
            read.UnionWith(node.Input.Where(v => v.Length > 0));
            read.UnionWith(graph.OuterReferences(node));
        }
        foreach (var node in dead) graph.RemoveNode(node);
        removed += dead.Count;

        foreach (var initializer in graph.Proto.Initializer.ToList())
        {
            if (read.Contains(initializer.Name) || !graph.IsConstantInitializer(initializer.Name)) continue;
            graph.RemoveInitializer(initializer.Name);
            removed++;
        }
        graph.PruneValueInfo();
        return removed;
    }
}
