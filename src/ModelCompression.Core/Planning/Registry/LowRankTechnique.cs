using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.DataAware;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// Low-rank factorization of the layers that hold a real share of the weights (at least <see cref="MinShare"/> of them,
/// and 4096 elements): ranks at a quarter down to a thirty-second of the largest useful rank (seven steps), each with the
/// factors stored int8 or int4 (MatMul/Gemm) or in 4- and 3-bit palettes. Ranks are tried by accuracy, not by retained
/// energy: fashion-cnn's big Gemm keeps only 52% of its energy at rank 16 yet loses 0.05 points. Its step comes before
/// the storage formats, which then apply to the two factors of each factored layer.
/// </summary>
public sealed class LowRankTechnique : ICompressionTechnique
{
    /// <summary>The share of the model's weights a layer must hold for low-rank and sparsity options to be worth their predictions and probes.</summary>
    public const double MinShare = 0.02;

    public string Name => "lowrank";

    public Technique Flag => Technique.LowRank;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.LowRank] = (step, context) => new LowRankFactorization(ParameterMap.ParseInts(step.Parameter(PassCatalog.RanksParameter) ?? ""), SpectrumCache.Shared,
            PassCatalog.RoundingOf(step), context.LayerStatistics),
    };

    public void Offer(LayerOptions options)
    {
        var total = options.TotalParameters;
        foreach (var layer in LowRankFactorization.EligibleNodes(options.Model))
        {
            if (layer.Parameters < 4096 || layer.Parameters < MinShare * total) continue;
            var ranks = new[] { 4, 6, 8, 12, 16, 24, 32 }.Select(f => layer.MaxUsefulRank / f).Where(r => r >= 4).Distinct().ToList();
            var formats = new List<WeightFormat>();
            if (options.Allows(Technique.Int8)) formats.Add(WeightFormat.Int8);
            if (options.Allows(Technique.Int4) && layer.OpType is "MatMul" or "Gemm") formats.Add(WeightFormat.Int4);
            var settings = ranks.SelectMany(rank => formats.Select(format => new LayerSetting(format, Rank: rank))).ToList();
            if (options.Allows(Technique.Palettize))
                settings.AddRange(ranks.SelectMany(rank => new[] { 4, 3 }.Select(bits => new LayerSetting(WeightFormat.Palette, bits, Rank: rank))));
            options.Allow(layer.Node, layer.OpType, settings, layer.Parameters);
        }
    }

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        foreach (var rounding in SketchNodes.Roundings)
            if (sketch.Layers.Where(l => l.Value.Rank > 0 && l.Value.Rounding == rounding).ToList() is { Count: > 0 } factored)
                yield return (PlanStage.Factor, new PassStep(PassCatalog.LowRank, [KeyValuePair.Create(PassCatalog.RanksParameter,
                    ParameterMap.Format(factored.Select(l => KeyValuePair.Create(l.Key, l.Value.Rank)))), .. RoundingParameter.Of(rounding)]));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass != PassCatalog.LowRank || step.Parameter(PassCatalog.RanksParameter) is not { } ranks) return;
        foreach (var (node, rank) in ParameterMap.ParseInts(ranks)) reader.Ranks[node] = rank;
    }
}
