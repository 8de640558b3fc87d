using ModelCompression.Core.Passes.LowRank;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>A sketch being rebuilt from a plan's steps, in order (factored layers' ranks are read before their formats).</summary>
public sealed class SketchReader
{
    public CompressionSketch Sketch { get; set; } = CompressionSketch.Unchanged;

    /// <summary>The rank of each factored layer read so far.</summary>
    public Dictionary<string, int> Ranks { get; } = new(StringComparer.Ordinal);

    /// <summary>The layer a weight node belongs to: a factor's layer, or the node itself.</summary>
    public static string LayerOf(string node)
    {
        foreach (var suffix in new[] { LowRankFactorization.FirstFactorName(""), LowRankFactorization.SecondFactorName("") })
            if (node.EndsWith(suffix, StringComparison.Ordinal)) return node[..^suffix.Length];
        return node;
    }

    /// <summary>Records that <paramref name="node"/> (a layer or one of its factors) is stored as <paramref name="setting"/>, with its layer's rank.</summary>
    public void Store(string node, LayerSetting setting, PassStep step)
    {
        var layer = LayerOf(node);
        Sketch = Sketch.With(layer, setting with { Rank = Ranks.GetValueOrDefault(layer), Rounding = PassCatalog.RoundingOf(step) });
    }
}
