using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.LowRank;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>The weight nodes a sketch stores in a format: a factored layer's two factors, else the layer.</summary>
public static class SketchNodes
{
    /// <summary>The nodes holding the weights of the layers stored in <paramref name="format"/> (sparse layers excepted: their own step stores them).</summary>
    public static List<string> With(CompressionSketch sketch, WeightFormat format, Rounding rounding) =>
        sketch.Layers.Where(l => l.Value.Format == format && l.Value.Sparsity == 0 && l.Value.Rounding == rounding).SelectMany(l => Of(l.Key, l.Value)).ToList();

    /// <summary>Nearest first: a technique writes one step per rounding, each step's <c>rounding</c> holding for all its nodes.</summary>
    public static IReadOnlyList<Rounding> Roundings { get; } = [Rounding.Nearest, Rounding.Hessian];

    /// <summary>A step's <c>rounding</c> parameter as (name, value) pairs: none for nearest, so plans without data-aware rounding read as before.</summary>
    public static (string Name, string Value)[] RoundingPair(Rounding rounding) =>
        RoundingParameter.Of(rounding).Select(p => (p.Key, p.Value)).ToArray();

    public static IEnumerable<string> Of(string layer, LayerSetting setting) =>
        setting.Rank > 0 ? [LowRankFactorization.FirstFactorName(layer), LowRankFactorization.SecondFactorName(layer)] : [layer];

    /// <summary>The node names of a step's <c>nodes</c> parameter.</summary>
    public static IEnumerable<string> Named(PassStep step) =>
        step.Parameter(PassCatalog.NodesParameter)?.Split(';', StringSplitOptions.RemoveEmptyEntries) ?? [];
}
