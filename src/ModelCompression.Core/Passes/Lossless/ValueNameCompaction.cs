using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Renames every value of the main graph and its subgraphs to a short name ("0", "1", … "z", "10", …), drops the
/// names of nodes that compute only from constants (the weight decoding the storage passes write: ONNX Runtime folds
/// them when the session loads, so no profile or error ever shows them) and empty names, doc strings and domains.
/// Exporters' names ("/layer1/conv/Conv_output_0") and the passes' derived names are written twice per value
/// (producer and consumer): on a model of a few kilobytes that is a fifth of the file. The main graph's inputs and
/// outputs keep their names (callers bind to them), and so do the names of nodes that run (plans, reports and
/// profiles refer to them). Function bodies are a scope of their own and are left as they are.
/// <para>The renaming is one-to-one on strings, so every reference, at any depth, still names what it named:
/// what a value is bound to never changes, whatever the scoping rules. Cost: linear in the number of names.</para>
/// </summary>
public sealed class ValueNameCompaction : IGraphPass
{
    public string Name => "compact-names";

    /// <summary>A copy of <paramref name="model"/> with compact names.</summary>
    public static ModelProto Compacted(ModelProto model)
    {
        var copy = model.Clone();
        new ValueNameCompaction().Apply(copy);
        return copy;
    }

    public int Apply(ModelProto model)
    {
        if (model.Graph is null) return 0;
        var names = new ShortNames(model.Graph.Input.Select(v => v.Name).Concat(model.Graph.Output.Select(v => v.Name)));
        foreach (var graph in OnnxWalk.GraphAndSubgraphs(model.Graph))
        {
            foreach (var node in FoldedAtLoad(graph)) node.ClearName();
            foreach (var value in graph.Input) value.Name = names.Of(value.Name);
            foreach (var tensor in graph.Initializer) tensor.Name = names.Of(tensor.Name);
            foreach (var sparse in graph.SparseInitializer)
                if (sparse.Values is { } values) values.Name = names.Of(values.Name);
            foreach (var node in graph.Node)
            {
                for (var i = 0; i < node.Input.Count; i++) node.Input[i] = names.Of(node.Input[i]);
                for (var i = 0; i < node.Output.Count; i++) node.Output[i] = names.Of(node.Output[i]);
                if (node.HasName && node.Name.Length == 0) node.ClearName();
                if (node.HasDocString && node.DocString.Length == 0) node.ClearDocString();
                if (node.HasDomain && node.Domain.Length == 0) node.ClearDomain();
            }
            foreach (var value in graph.ValueInfo) value.Name = names.Of(value.Name);
            foreach (var value in graph.Output) value.Name = names.Of(value.Name);
            foreach (var annotation in graph.QuantizationAnnotation.Where(a => a.HasTensorName)) annotation.TensorName = names.Of(annotation.TensorName);
        }
        return names.Renamed;
    }

    // Nodes (in order) whose inputs are all initializers or outputs of such nodes; an initializer that is also a graph
    // input can be fed at run time, so it is not a constant.
    private static List<NodeProto> FoldedAtLoad(GraphProto graph)
    {
        var inputs = graph.Input.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        var constants = graph.Initializer.Select(t => t.Name).Concat(graph.SparseInitializer.Select(s => s.Values?.Name ?? ""))
            .Where(n => n.Length > 0 && !inputs.Contains(n)).ToHashSet(StringComparer.Ordinal);
        var folded = new List<NodeProto>();
        foreach (var node in graph.Node)
        {
            if (OnnxWalk.SubgraphsOf(node).Any() || !node.Input.All(i => i.Length == 0 || constants.Contains(i))) continue;
            constants.UnionWith(node.Output);
            folded.Add(node);
        }
        return folded;
    }

    // Hands out base-36 counters in order of first use, skipping the names that stay.
    private sealed class ShortNames(IEnumerable<string> kept)
    {
        private readonly HashSet<string> _kept = kept.ToHashSet(StringComparer.Ordinal);
        private readonly Dictionary<string, string> _renamed = new(StringComparer.Ordinal);
        private long _next;

        public int Renamed => _renamed.Count;

        public string Of(string name)
        {
            if (name.Length == 0 || _kept.Contains(name)) return name;
            if (_renamed.TryGetValue(name, out var known)) return known;
            string next;
            do next = Base36(_next++); while (_kept.Contains(next));
            return _renamed[name] = next;
        }

        private static string Base36(long value)
        {
            const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
            var text = "";
            do
            {
                text = digits[(int)(value % 36)] + text;
                value /= 36;
            } while (value > 0);
            return text;
        }
    }
}
