using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Removes nodes that pass their input through unchanged at inference: <c>Identity</c>, and <c>Dropout</c>
/// in inference mode whose mask output is absent or unused. Readers of the output read the input instead;
/// when the output is a graph output (a name callers rely on), the input's producer is renamed to it
/// instead, which is only possible when a node of the same graph produces the input and the input is not
/// itself a graph output. An Identity that forwards a graph input, an initializer or an outer-scope value
/// to a graph output stays.
/// </summary>
public sealed class IdentityElimination : IGraphPass
{
    public string Name => "remove-identity";

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var removed = 0;
        foreach (var graph in view.Graphs())
            foreach (var node in graph.Nodes.ToList())
                if (IsPassThrough(graph, node) && TryRemove(graph, node)) removed++;
        return removed;
    }

    private static bool IsPassThrough(GraphView graph, NodeProto node)
    {
        if (!node.IsStandard() || node.Input.Count == 0 || node.Input[0].Length == 0 || node.Output.Count == 0 || node.Output[0].Length == 0)
            return false;
        return node.OpType switch
        {
            "Identity" => node.Output.Count == 1,
            "Dropout" => IsInferenceDropout(graph, node),
            _ => false,
        };
    }

    // Dropout before opset 7 had an is_test switch and ONNX Runtime no longer runs it; from 7 to 11 it is the
    // identity at inference; from 12 the optional training_mode input must be absent or a constant false.
    private static bool IsInferenceDropout(GraphView graph, NodeProto node)
    {
        if (graph.Model.OpsetVersion() < 7) return false;
        var mask = node.OutputOrEmpty(1);
        if (mask.Length > 0 && graph.IsUsed(mask)) return false;
        var trainingMode = node.InputOrEmpty(2);
        if (trainingMode.Length == 0) return true;
        return graph.TryGetConstant(trainingMode, out var value) && value.ElementCount == 1 && value.ToInt64s()[0] == 0;
    }

    private static bool TryRemove(GraphView graph, NodeProto node)
    {
        var input = node.Input[0];
        var output = node.Output[0];
        if (!graph.IsGraphOutput(output))
        {
            graph.ReplaceUses(output, input);
            graph.RemoveNode(node);
            return true;
        }
        if (graph.Producer(input) is null || graph.IsGraphOutput(input)) return false;
        graph.RemoveNode(node);
        graph.RenameValue(input, output);
        return true;
    }
}
