using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Passes;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// Magnitude pruning of the large layers (part of <c>prune</c>, with <c>palettize</c>), stored as a 1-bit mask plus the
/// non-zeros' 4-bit palette codes: 1 + (1 − s)·4 bits per weight, which only pays well above a quarter of zeros (75% and
/// 90% are tried).
/// </summary>
public sealed class SparsityTechnique : ICompressionTechnique
{
    public string Name => "prune";

    public Technique Flag => Technique.Prune;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.PruneWeights] = (step, _) => MagnitudePruning.FromParameters(step.Parameters),
    };

    public void Offer(LayerOptions options)
    {
        if (!options.Allows(Technique.Palettize)) return;
        var types = Int8WeightQuantization.Eligible(options.Model).GroupBy(w => w.Node.Name).ToDictionary(g => g.Key, g => g.First().Node.OpType);
        var total = options.TotalParameters;
        foreach (var node in MagnitudePruning.EligibleNodes(options.Model))
        {
            if (!types.TryGetValue(node, out var opType) || options.ParametersOf(node) < LowRankTechnique.MinShare * total) continue;
            options.Allow(node, opType, new[] { 0.75, 0.9 }.Select(s => new LayerSetting(WeightFormat.Palette, 4, Sparsity: s)));
        }
    }

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        var sparse = sketch.Layers.Where(l => l.Value.Sparsity > 0).ToList();
        if (sparse.Count > 0)
            yield return (PlanStage.Sparsify, new PassStep(PassCatalog.PruneWeights, [
                KeyValuePair.Create(PassParameters.Sparsity, ParameterMap.Format(sparse.Select(l => KeyValuePair.Create(l.Key, l.Value.Sparsity)))),
                KeyValuePair.Create(PassParameters.Bits, ParameterMap.Format(sparse.Select(l => KeyValuePair.Create(l.Key, l.Value.Bits)))),
                .. PaletteTechnique.Layout]));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass != PassCatalog.PruneWeights || step.Parameter(PassParameters.Bits) is not { } bits) return;
        var sparsity = step.Parameter(PassParameters.Sparsity) is { } text ? ParameterMap.ParseFractions(text) : new Dictionary<string, double>();
        foreach (var (node, width) in ParameterMap.ParseInts(bits))
            reader.Store(node, new LayerSetting(WeightFormat.Palette, width, Sparsity: sparsity.GetValueOrDefault(node)), step);
    }

    // Magnitude pruning, then the survivors' palette (one per tensor, as the pass stores it).
    public float[]? Store(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs)
    {
        if (setting.Sparsity <= 0) return null;
        var pruned = MagnitudeThreshold.Prune([values], setting.Sparsity)[0];
        var survivors = pruned.Where(v => v != 0).ToArray();
        if (survivors.Length == 0) return pruned;
        var decoded = PalettizedValues.Fit(survivors, setting.Bits).Decode();
        for (int i = 0, j = 0; i < pruned.Length; i++)
            if (pruned[i] != 0) pruned[i] = decoded[j++];
        return pruned;
    }
}
