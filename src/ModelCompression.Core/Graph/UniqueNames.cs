using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph;

/// <summary>
/// Hands out names no graph of the model uses yet (values, initializers, nodes: one namespace, at every depth),
/// so a rewrite can never capture or shadow an existing value.
/// </summary>
public sealed class UniqueNames
{
    private readonly HashSet<string> _taken = new(StringComparer.Ordinal);

    public UniqueNames(ModelProto model)
    {
        foreach (var graph in OnnxWalk.Graphs(model))
        {
            foreach (var v in graph.Input) _taken.Add(v.Name);
            foreach (var v in graph.Output) _taken.Add(v.Name);
            foreach (var v in graph.ValueInfo) _taken.Add(v.Name);
            foreach (var t in graph.Initializer) _taken.Add(t.Name);
            foreach (var s in graph.SparseInitializer)
                if (s.Values is not null) _taken.Add(s.Values.Name);
            foreach (var node in graph.Node)
            {
                _taken.Add(node.Name);
                _taken.UnionWith(node.Input);
                _taken.UnionWith(node.Output);
            }
        }
        foreach (var function in model.Functions)
            foreach (var node in function.Node)
            {
                _taken.UnionWith(node.Input);
                _taken.UnionWith(node.Output);
            }
    }

    /// <summary><paramref name="baseName"/> if free, else the first free <c>baseName_1</c>, <c>baseName_2</c>...; reserved from now on.</summary>
    public string Next(string baseName)
    {
        if (_taken.Add(baseName)) return baseName;
        for (var i = 1; ; i++)
        {
            var candidate = $"{baseName}_{i}";
            if (_taken.Add(candidate)) return candidate;
        }
    }

    public bool IsTaken(string name) => _taken.Contains(name);
}
