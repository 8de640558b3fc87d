namespace ModelCompression.Core.Passes.Sparsity;

/// <summary>
/// How many weights to prune: a fraction per layer, or one fraction over a set of layers with a single magnitude
/// threshold (global pruning: layers with many small weights lose more of them than layers with few).
/// </summary>
public sealed class SparsityTarget
{
    private SparsityTarget(IReadOnlyDictionary<string, double> perLayer, double? global)
    {
        foreach (var (node, sparsity) in perLayer)
            if (!(sparsity is >= 0 and < 1)) throw new ArgumentOutOfRangeException(nameof(perLayer), sparsity, $"Node '{node}': sparsity must be in [0, 1).");
        PerLayer = perLayer;
        GlobalSparsity = global;
    }

    /// <summary>Each named node's fraction of weights to zero (for <see cref="Global"/> targets, every node with the global fraction).</summary>
    public IReadOnlyDictionary<string, double> PerLayer { get; }

    /// <summary>The fraction of all the nodes' weights together (one threshold); null for per-layer targets.</summary>
    public double? GlobalSparsity { get; }

    public IEnumerable<string> Nodes => PerLayer.Keys;

    /// <param name="sparsity">Per node name, the fraction in [0, 1) of its weights to set to zero.</param>
    public static SparsityTarget Layers(IReadOnlyDictionary<string, double> sparsity) => new(sparsity, null);

    /// <summary>Zeros <paramref name="sparsity"/> of the weights of all <paramref name="nodes"/> together, the smallest magnitudes first.</summary>
    public static SparsityTarget Global(double sparsity, IEnumerable<string> nodes) =>
        new(nodes.Distinct().ToDictionary(n => n, _ => sparsity, StringComparer.Ordinal), sparsity);
}
