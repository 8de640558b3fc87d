namespace ModelCompression.Core.Planning;

/// <summary>A layer whose weights the planner can store at several precisions.</summary>
/// <param name="Node">The node's (unique) name.</param>
/// <param name="Parameters">How many weight elements it holds.</param>
/// <param name="Precisions">The precisions its weights can take; always includes fp32.</param>
public sealed record LayerChoice(string Node, string OpType, long Parameters, IReadOnlySet<Precision> Precisions)
{
    /// <summary>The most aggressive precision this layer allows.</summary>
    public Precision Max => Precisions.Max();
}
