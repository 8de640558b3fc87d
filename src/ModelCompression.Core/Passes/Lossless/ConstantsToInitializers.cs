using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Turns <c>Constant</c> nodes into initializers of the same graph (subgraphs included), so that every
/// weight is an initializer: what quantization and the other passes look for. Exporters such as
/// paddle2onnx keep all weights in Constant nodes. Left alone: sparse constants, constants that are
/// directly a graph output (an output must stay produced by a node), and subgraphs of IR &lt; 4 models
/// (whose initializers would have to become subgraph inputs).
/// </summary>
public sealed class ConstantsToInitializers : IGraphPass
{
    public string Name => "constants-to-initializers";

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var converted = 0;
        foreach (var graph in view.Graphs())
        {
            if (!graph.CanAddInitializers) continue;
            foreach (var node in graph.Nodes.ToList())
            {
                if (!ConstantNodes.IsConstantNode(node) || ConstantNodes.ValueOf(node) is not { } tensor) continue;
                if (graph.IsGraphOutput(tensor.Name) || graph.Initializer(tensor.Name) is not null) continue;
                if (tensor.DocString.Length == 0) tensor.DocString = node.DocString;
                graph.RemoveNode(node);
                graph.AddInitializer(tensor);
                converted++;
            }
        }
        return converted;
    }
}
