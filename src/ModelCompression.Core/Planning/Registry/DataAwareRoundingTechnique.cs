using ModelCompression.Core.Passes.DataAware;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// Data-aware rounding: a twin of every int8, int4, palette and low-rank option whose step rounds with the layer's input
/// moments (GPTQ, Hessian-weighted palettes, whitened SVD; <c>rounding=hessian</c>). Not a <c>Techniques</c> word: it
/// changes how the allowed techniques round, never which ones run. Without moments a twin gives the nearest model.
/// </summary>
public sealed class DataAwareRoundingTechnique : ICompressionTechnique
{
    public string Name => "";

    public Technique Flag => Technique.None;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>();

    public void Offer(LayerOptions options)
    {
        if (!options.DataAwareRounding) return;
        foreach (var layer in options.Layers())
            options.Allow(layer.Node, layer.OpType, layer.Settings.Where(Rounds).Select(s => s with { Rounding = Rounding.Hessian }).ToList());
    }

    // Sparse palettes and fp16 round to nearest whatever the setting says.
    private static bool Rounds(LayerSetting setting) =>
        setting.Sparsity == 0 && setting.Rounding == Rounding.Nearest && setting.Format is WeightFormat.Int8 or WeightFormat.Int4 or WeightFormat.Palette;
}
