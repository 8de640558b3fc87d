using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>fp16: weights stored as float16, cast back to float when the model loads; so are the biases of every compressed layer.</summary>
public sealed class Fp16Technique : ICompressionTechnique
{
    public string Name => "fp16";

    public Technique Flag => Technique.Fp16;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.Fp16Weights] = (step, _) => new Fp16WeightConversion(PassCatalog.NodesOf(step)),
        [PassCatalog.Fp16Biases] = (step, _) => new Fp16BiasConversion(PassCatalog.NodesOf(step) ?? new HashSet<string>()),
    };

    public void Offer(LayerOptions options)
    {
        foreach (var node in Fp16WeightConversion.Eligible(options.Model).Select(w => w.Node).DistinctBy(n => n.Name))
            options.Allow(node.Name, node.OpType, [new LayerSetting(WeightFormat.Fp16)]);
    }

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        var nodes = SketchNodes.With(sketch, WeightFormat.Fp16, Rounding.Nearest);
        if (nodes.Count > 0) yield return (PlanStage.Fp16, PassCatalog.Step(PassCatalog.Fp16Weights, nodes));
        // A compressed layer's bias goes to float16 too where its weights could: a factored layer's bias is on its
        // second factor, or, folded, on the layer again.
        var fp16Layers = space.Layers.Where(l => l.Settings.Any(s => s.Format == WeightFormat.Fp16)).Select(l => l.Node).ToHashSet(StringComparer.Ordinal);
        var biased = sketch.Layers.Where(l => l.Value.Format != WeightFormat.Fp32 && fp16Layers.Contains(l.Key))
            .SelectMany(l => l.Value.Rank > 0 ? [LowRankFactorization.SecondFactorName(l.Key), l.Key] : new[] { l.Key }).ToList();
        if (biased.Count > 0) yield return (PlanStage.Biases, PassCatalog.Step(PassCatalog.Fp16Biases, biased));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass != PassCatalog.Fp16Weights) return;
        foreach (var node in SketchNodes.Named(step)) reader.Store(node, new LayerSetting(WeightFormat.Fp16), step);
    }

    public float[]? Store(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs) =>
        setting.Format == WeightFormat.Fp16 ? values.Select(v => (float)(Half)v).ToArray() : null;
}
