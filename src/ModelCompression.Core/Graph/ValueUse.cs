using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph;

/// <summary>
/// One place a value is read. <see cref="Node"/> reads it as input <see cref="Index"/>, or, when
/// <see cref="Node"/> is null, output <see cref="Index"/> of <see cref="Graph"/> is the value.
/// <see cref="Holder"/> is the node of the queried graph through which the use happens: the reading
/// node itself, or the If/Loop/Scan node whose subgraph reads the value from the outer scope; null
/// for an output of the queried graph.
/// </summary>
public readonly record struct ValueUse(NodeProto? Node, int Index, GraphProto Graph, NodeProto? Holder)
{
    /// <summary>The value is an output of the queried graph (part of its interface).</summary>
    public bool IsGraphOutput => Node is null && Holder is null;

    /// <summary>The value is read inside a subgraph of <see cref="Holder"/>.</summary>
    public bool IsInSubgraph => Holder is not null && !ReferenceEquals(Holder, Node);
}
