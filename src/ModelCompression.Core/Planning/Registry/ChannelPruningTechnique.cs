using ModelCompression.Core.Passes.Pruning;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>Structured pruning: a share of each group of coupled channels removed (a quarter or a half: without fine-tuning accuracy goes quickly).</summary>
public sealed class ChannelPruningTechnique : ICompressionTechnique
{
    /// <summary>The channel shares tried per group.</summary>
    public static IReadOnlyList<double> Ratios { get; } = [0.25, 0.5];

    public string Name => "prune";

    public Technique Flag => Technique.Prune;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.PruneChannels] = (step, _) => new ChannelPruning(ChannelPruning.ParseRatios(step.Parameter(ChannelPruning.RatiosParameter) ?? ""),
            ChannelPruning.ParseCriterion(step.Parameter(ChannelPruning.ImportanceParameter) ?? "l1")),
    };

    public void Offer(LayerOptions options) =>
        options.Pruning.AddRange(ChannelPruning.Groups(options.Model).Where(g => g.IsPrunable && g.Channels > 1)
            .Select(g => new PruningSpace(g.Id, g.Parameters, Ratios.Where(r => g.ChannelsRemovedAt(r, ChannelPruning.DefaultChannelMultiple) > 0).ToList()))
            .Where(p => p.Ratios.Count > 0));

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        if (sketch.Pruning.Count > 0)
            yield return (PlanStage.PruneChannels, new PassStep(PassCatalog.PruneChannels,
                [KeyValuePair.Create(ChannelPruning.RatiosParameter, ChannelPruning.FormatRatios(sketch.Pruning))]));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass != PassCatalog.PruneChannels || step.Parameter(ChannelPruning.RatiosParameter) is not { } ratios) return;
        foreach (var (group, ratio) in ChannelPruning.ParseRatios(ratios)) reader.Sketch = reader.Sketch.WithPruning(group, ratio);
    }
}
