using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Graph;

namespace ModelCompression.Core.Onnx;

/// <summary>
/// Structural checks that catch what protobuf parsing lets through, such as a file cut at a field
/// boundary or written by a faulty tool: a graph must exist, opsets must be declared, every value a
/// node or output uses must be defined in its scope (graph inputs, initializers, node outputs, enclosing
/// graphs) and defined once, the main graph lists each output once, nodes form no cycle, and every
/// tensor's data fits its dims. ONNX Runtime rejects all of these too, but only with its own words.
/// </summary>
public static class OnnxStructure
{
    public static void Validate(ModelProto model, string path)
    {
        if (model.Graph is null)
            throw Invalid(path, "it holds no graph");
        if (model.IrVersion <= 0)
            throw Invalid(path, "it declares no IR version");
        if (model.OpsetImport.Count == 0)
            throw Invalid(path, "it imports no operator set");
        ValidateGraph(model.Graph, new HashSet<string>(StringComparer.Ordinal), path);
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var output in model.Graph.Output)
            if (!outputs.Add(output.Name))
                throw Invalid(path, $"it lists graph output '{output.Name}' twice (outputs are bound by name, so each is listed once)");
        foreach (var tensor in OnnxWalk.Tensors(model))
            if (TensorStorage.Problem(tensor) is { } problem)
                throw Invalid(path, $"tensor '{tensor.Name}' {problem}");
        foreach (var graph in new ModelView(model).Graphs())
            if (graph.NodesOnCycles() is [var first, ..] cycle)
                throw Invalid(path, $"its nodes form a cycle: {cycle.Count} nodes, such as '{first.Name}' ({first.OpType}), wait on their own outputs");
    }

    private static void ValidateGraph(GraphProto graph, HashSet<string> outerScope, string path)
    {
        var defined = new HashSet<string>(outerScope, StringComparer.Ordinal);
        foreach (var input in graph.Input) defined.Add(input.Name);
        foreach (var initializer in graph.Initializer) defined.Add(initializer.Name);
        foreach (var sparse in graph.SparseInitializer)
            if (sparse.Values is not null) defined.Add(sparse.Values.Name);
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
            foreach (var output in node.Output)
                if (output.Length > 0) DefineOnce(output, node, producers, defined, outerScope, path);

        foreach (var node in graph.Node)
        {
            foreach (var input in node.Input)
                if (input.Length > 0 && !defined.Contains(input))
                    throw Invalid(path, $"node '{node.Name}' ({node.OpType}) reads '{input}', which nothing defines");
            foreach (var subgraph in OnnxWalk.SubgraphsOf(node))
                ValidateGraph(subgraph, defined, path);
        }
        foreach (var output in graph.Output)
            if (!defined.Contains(output.Name))
                throw Invalid(path, $"graph output '{output.Name}' is not produced by any node");
    }

    // Each value has one definition in its graph: a second producer, or a producer of an input or initializer, is ambiguous.
    private static void DefineOnce(string value, NodeProto node, Dictionary<string, NodeProto> producers, HashSet<string> defined,
        HashSet<string> outerScope, string path)
    {
        if (producers.TryGetValue(value, out var other))
            throw Invalid(path, $"'{value}' is produced twice, by node '{other.Name}' ({other.OpType}) and by node '{node.Name}' ({node.OpType})");
        if (defined.Contains(value) && !outerScope.Contains(value))
            throw Invalid(path, $"node '{node.Name}' ({node.OpType}) produces '{value}', which is already a graph input or initializer");
        producers.Add(value, node);
        defined.Add(value);
    }

    private static CompressionException Invalid(string path, string reason) =>
        new(DiagnosticCode.ModelInvalid, path,
            $"'{path}' is not a valid ONNX model: {reason}. The file is truncated, corrupt or written by a faulty tool; export the model again.");
}
