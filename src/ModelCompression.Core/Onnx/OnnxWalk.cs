namespace ModelCompression.Core.Onnx;

/// <summary>Enumerates the parts of a model at every depth: If/Loop/Scan bodies and functions included.</summary>
public static class OnnxWalk
{
    /// <summary>The main graph, then every subgraph held by a node attribute, depth first.</summary>
    public static IEnumerable<GraphProto> Graphs(ModelProto model)
    {
        if (model.Graph is not null)
            foreach (var g in GraphAndSubgraphs(model.Graph)) yield return g;
        foreach (var function in model.Functions)
            foreach (var node in function.Node)
                foreach (var sub in SubgraphsOf(node))
                    foreach (var g in GraphAndSubgraphs(sub)) yield return g;
    }

    /// <summary><paramref name="graph"/> and, recursively, every graph its nodes hold.</summary>
    public static IEnumerable<GraphProto> GraphAndSubgraphs(GraphProto graph)
    {
        yield return graph;
        foreach (var node in graph.Node)
            foreach (var sub in SubgraphsOf(node))
                foreach (var g in GraphAndSubgraphs(sub)) yield return g;
    }

    /// <summary>The graphs a node holds directly (If branches, Loop/Scan bodies).</summary>
    public static IEnumerable<GraphProto> SubgraphsOf(NodeProto node)
    {
        foreach (var attribute in node.Attribute)
        {
            if (attribute.G is not null) yield return attribute.G;
            foreach (var g in attribute.Graphs) yield return g;
        }
    }

    /// <summary>
    /// Every tensor that carries data: initializers, sparse initializers, and tensor attributes
    /// (Constant values and the like), in the main graph, subgraphs and functions.
    /// </summary>
    public static IEnumerable<TensorProto> Tensors(ModelProto model)
    {
        foreach (var graph in Graphs(model))
        {
            foreach (var t in graph.Initializer) yield return t;
            foreach (var sparse in graph.SparseInitializer)
            {
                if (sparse.Values is not null) yield return sparse.Values;
                if (sparse.Indices is not null) yield return sparse.Indices;
            }
            foreach (var node in graph.Node)
                foreach (var t in TensorAttributes(node)) yield return t;
        }
        foreach (var function in model.Functions)
            foreach (var node in function.Node)
                foreach (var t in TensorAttributes(node)) yield return t;
    }

    private static IEnumerable<TensorProto> TensorAttributes(NodeProto node)
    {
        foreach (var attribute in node.Attribute)
        {
            if (attribute.T is not null) yield return attribute.T;
            foreach (var t in attribute.Tensors) yield return t;
            if (attribute.SparseTensor is not null)
            {
                if (attribute.SparseTensor.Values is not null) yield return attribute.SparseTensor.Values;
                if (attribute.SparseTensor.Indices is not null) yield return attribute.SparseTensor.Indices;
            }
        }
    }
}
