using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes;

/// <summary>
/// Gives every node a name unique within the model (unnamed or duplicate ones become
/// <c>{OpType}_{n}</c>): plans, locks and reports refer to nodes by name. Deterministic, so the
/// same source model always gets the same names; it changes no computation.
/// </summary>
public sealed class NodeNaming : IGraphPass
{
    public string Name => "name-nodes";

    public int Apply(ModelProto model)
    {
        var nodes = OnnxWalk.Graphs(model).SelectMany(g => g.Node).ToList();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var needName = new List<NodeProto>();
        foreach (var node in nodes)
            if (node.Name.Length == 0 || !taken.Add(node.Name)) needName.Add(node);
        var next = 0;
        foreach (var node in needName)
        {
            string name;
            do name = $"{node.OpType}_{next++}"; while (taken.Contains(name));
            taken.Add(name);
            node.Name = name;
        }
        return needName.Count;
    }
}
