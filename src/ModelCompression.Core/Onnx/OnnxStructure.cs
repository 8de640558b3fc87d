using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Onnx;

/// <summary>
/// Structural checks that catch what protobuf parsing lets through, such as a file cut at a field
/// boundary: a graph must exist, opsets must be declared, every value a node or output uses
/// must be defined in its scope (graph inputs, initializers, node outputs, enclosing graphs), and
/// a tensor's raw data must fill its dims exactly.
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
        foreach (var tensor in OnnxWalk.Tensors(model).Where(t => !t.RawData.IsEmpty))
            ValidateRawData(tensor, path);
    }

    // ONNX Runtime refuses a tensor whose raw data does not fill its dims exactly; later passes would size buffers from the dims.
    private static void ValidateRawData(TensorProto tensor, string path)
    {
        if (!DeclaredSize.IsPossible(tensor))
            throw Invalid(path, $"tensor '{tensor.Name}' has the impossible dims {DeclaredSize.Describe(tensor)}");
        if (DeclaredSize.Bytes(tensor) is { } needed && needed != tensor.RawData.Length)
            throw Invalid(path, $"tensor '{tensor.Name}' ({DeclaredSize.Describe(tensor)}) needs {needed} bytes, but its raw data holds {tensor.RawData.Length}");
    }

    private static void ValidateGraph(GraphProto graph, HashSet<string> outerScope, string path)
    {
        var defined = new HashSet<string>(outerScope, StringComparer.Ordinal);
        foreach (var input in graph.Input) defined.Add(input.Name);
        foreach (var initializer in graph.Initializer) defined.Add(initializer.Name);
        foreach (var sparse in graph.SparseInitializer)
            if (sparse.Values is not null) defined.Add(sparse.Values.Name);
        foreach (var node in graph.Node)
            foreach (var output in node.Output)
                if (output.Length > 0) defined.Add(output);

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

    private static CompressionException Invalid(string path, string reason) =>
        new(DiagnosticCode.ModelInvalid, path,
            $"'{path}' is not a valid ONNX model: {reason}. The file is truncated or corrupt; export the model again.");
}
