using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.DataAware;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// Palettes (weight clustering, expanded when ONNX Runtime loads the model): 4-bit codes for every eligible layer, and 6,
/// 5, 3 and 2 bits too for the layers holding a real share of the weights. One palette per 16 output channels: on
/// fashion-cnn at 3 bits that keeps 90.0% where one per tensor keeps 89.5%.
/// </summary>
public sealed class PaletteTechnique : ICompressionTechnique
{
    /// <summary>The share of the model's weights a layer must hold for palettes narrower than 4 bits to be worth their probes.</summary>
    public const double NarrowPaletteMinShare = 0.01;

    /// <summary>One palette per 16 output channels (measured on fashion-cnn at 3 bits: 90.0% against 89.5% per tensor).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Layout { get; } =
        [KeyValuePair.Create(PassParameters.Granularity, "channel-group"), KeyValuePair.Create(PassParameters.GroupSize, "16")];

    public string Name => "palettize";

    public Technique Flag => Technique.Palettize;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.Palettize] = (step, context) => WeightPalettization.FromParameters(step.Parameters, context.LayerStatistics),
    };

    public void Offer(LayerOptions options)
    {
        var types = Int8WeightQuantization.Eligible(options.Model).GroupBy(w => w.Node.Name).ToDictionary(g => g.Key, g => g.First().Node.OpType);
        var total = options.TotalParameters;
        foreach (var node in WeightPalettization.EligibleNodes(options.Model))
        {
            if (!types.TryGetValue(node, out var opType)) continue;
            int[] bits = options.ParametersOf(node) >= NarrowPaletteMinShare * total ? [6, 5, 4, 3, 2] : [4];
            options.Allow(node, opType, bits.Select(b => new LayerSetting(WeightFormat.Palette, b)));
        }
    }

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        foreach (var rounding in SketchNodes.Roundings)
        {
            var palettes = sketch.Layers.Where(l => l.Value.Format == WeightFormat.Palette && l.Value.Sparsity == 0 && l.Value.Rounding == rounding)
                .SelectMany(l => SketchNodes.Of(l.Key, l.Value).Select(node => KeyValuePair.Create(node, l.Value.Bits))).ToList();
            if (palettes.Count > 0)
                yield return (PlanStage.Palettize, new PassStep(PassCatalog.Palettize,
                    [KeyValuePair.Create(PassParameters.Bits, ParameterMap.Format(palettes)), .. Layout, .. RoundingParameter.Of(rounding), .. Entries(rounding, knobs)]));
        }
    }

    private static IEnumerable<KeyValuePair<string, string>> Entries(Rounding rounding, QuantizationKnobs knobs) =>
        rounding == Rounding.Hessian && knobs.RefitPalettes ? [KeyValuePair.Create(PassParameters.Entries, PassParameters.RefittedEntries)] : [];

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass != PassCatalog.Palettize || step.Parameter(PassParameters.Bits) is not { } bits) return;
        foreach (var (node, width) in ParameterMap.ParseInts(bits)) reader.Store(node, new LayerSetting(WeightFormat.Palette, width), step);
    }

    public float[]? Store(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs)
    {
        if (setting.Format != WeightFormat.Palette || setting.Sparsity > 0) return null;
        var layout = WeightPalettization.GroupLayout(shape, axis, WeightPalettization.DefaultChannelGroupSize, setting.Bits);
        return PalettizedValues.Fit(values, setting.Bits, layout.Groups, layout.GroupsOf(values.Length)).Decode();
    }
}
