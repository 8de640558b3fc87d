using ModelCompression.Core.Passes;
using System.Globalization;

using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Pruning;

namespace ModelCompression.Core.Planning;

/// <summary>Turns a sketch (per-layer settings) and the shared knobs into a plan, and reads a plan back as a sketch.</summary>
public static class PlanBuilder
{
    /// <summary>
    /// The steps after <paramref name="basePlan"/>. Static int8 comes first among the quantization steps,
    /// so it calibrates the float activations of the same model for every candidate (calibrated once).
    /// Int8 layers the chosen form cannot take keep weight-only int8.
    /// </summary>
    public static Plan Build(Plan basePlan, CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        var steps = basePlan.Steps.ToList();
        // Pruning first: it needs float weights, and every later step then stores fewer of them.
        if (sketch.Pruning.Count > 0)
            steps.Add(new PassStep(PassCatalog.PruneChannels, [KeyValuePair.Create(ChannelPruning.RatiosParameter, ChannelPruning.FormatRatios(sketch.Pruning))]));
        // Low-rank next: the formats below then apply to the two factors of each factored layer.
        // One step per rounding, nearest first: each step's "rounding" parameter holds for all its nodes.
        var factored = sketch.Layers.Where(l => l.Value.Rank > 0).ToList();
        foreach (var rounding in Roundings)
            if (factored.Where(l => l.Value.Rounding == rounding).ToList() is { Count: > 0 } layers)
                steps.Add(new PassStep(PassCatalog.LowRank, [KeyValuePair.Create(PassCatalog.RanksParameter,
                    ParameterMap.Format(layers.Select(l => KeyValuePair.Create(l.Key, l.Value.Rank)))), .. RoundingParameter.Of(rounding)]));
        // Magnitude pruning: a 1-bit mask plus the non-zeros' palette codes, in one step.
        var sparse = sketch.Layers.Where(l => l.Value.Sparsity > 0).ToList();
        if (sparse.Count > 0)
            steps.Add(new PassStep(PassCatalog.PruneWeights, [
                KeyValuePair.Create(PassParameters.Sparsity, ParameterMap.Format(sparse.Select(l => KeyValuePair.Create(l.Key, l.Value.Sparsity)))),
                KeyValuePair.Create(PassParameters.Bits, ParameterMap.Format(sparse.Select(l => KeyValuePair.Create(l.Key, l.Value.Bits)))),
                .. PaletteLayout]));
        // Data-aware int8 is weight-only: the static and dynamic passes quantize their weights their own way.
        var int8 = NodesWith(sketch, WeightFormat.Int8, Rounding.Nearest);
        var byForm = knobs.Int8 switch
        {
            Int8Form.Static => int8.Where(space.StaticEligible.Contains).ToList(),
            Int8Form.Dynamic => int8.Where(space.DynamicEligible.Contains).ToList(),
            _ => [],
        };
        if (byForm.Count > 0)
            steps.Add(knobs.Int8 == Int8Form.Static
                ? PassCatalog.Step(PassCatalog.Int8Static, byForm, (PassCatalog.CalibrationParameter, knobs.Calibration))
                : PassCatalog.Step(PassCatalog.Int8Dynamic, byForm));
        foreach (var rounding in Roundings)
            if (NodesWith(sketch, WeightFormat.Int4, rounding) is { Count: > 0 } int4)
                steps.Add(PassCatalog.Step(PassCatalog.Int4Weights, int4, [
                    (PassCatalog.BlockParameter, knobs.Int4BlockSize.ToString(CultureInfo.InvariantCulture)),
                    (PassCatalog.AccuracyLevelParameter, knobs.Int4AccuracyLevel.ToString(CultureInfo.InvariantCulture)),
                    .. RoundingPair(rounding)]));
        foreach (var rounding in Roundings)
        {
            var palettes = sketch.Layers.Where(l => l.Value.Format == WeightFormat.Palette && l.Value.Sparsity == 0 && l.Value.Rounding == rounding)
                .SelectMany(l => WeightNodes(l.Key, l.Value).Select(node => KeyValuePair.Create(node, l.Value.Bits))).ToList();
            if (palettes.Count > 0)
                steps.Add(new PassStep(PassCatalog.Palettize, [KeyValuePair.Create(PassParameters.Bits, ParameterMap.Format(palettes)), .. PaletteLayout, .. RoundingParameter.Of(rounding)]));
        }
        var weightsOnly = int8.Except(byForm).ToList();
        if (weightsOnly.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.Int8Weights, weightsOnly));
        var int8Hessian = NodesWith(sketch, WeightFormat.Int8, Rounding.Hessian);
        if (int8Hessian.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.Int8Weights, int8Hessian, RoundingPair(Rounding.Hessian)));
        var fp16 = NodesWith(sketch, WeightFormat.Fp16);
        if (fp16.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.Fp16Weights, fp16));
        // Factoring shifts a layer's mean output; correcting its bias on calibration data recovers most of it
        // (fashion-cnn at rank 8: 73% → 89% accuracy). With the knob on, every lossy layer is corrected.
        var corrected = sketch.Layers.Where(l => l.Value.Rank > 0 || (knobs.BiasCorrection && !l.Value.AssumedLossless))
            .Select(l => l.Value.Rank > 0 ? LowRankFactorization.SecondFactorName(l.Key) : l.Key).ToList();
        if (corrected.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.BiasCorrection, corrected));
        // Last: it multiplies the factors in their final (quantized, corrected) form.
        if (knobs.FoldFactors && factored.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.FoldFactors, factored.Select(l => l.Key)));
        return new Plan(steps);
    }

    /// <summary>The setting each layer has in <paramref name="plan"/> (layers no step names stay fp32).</summary>
    public static CompressionSketch SketchOf(Plan plan)
    {
        var sketch = CompressionSketch.Unchanged;
        var ranksByNode = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var step in plan.Steps)
        {
            if (step.Pass == PassCatalog.PruneChannels && step.Parameter(ChannelPruning.RatiosParameter) is { } ratios)
                foreach (var (group, ratio) in ChannelPruning.ParseRatios(ratios))
                    sketch = sketch.WithPruning(group, ratio);
            if (step.Pass == PassCatalog.LowRank && step.Parameter(PassCatalog.RanksParameter) is { } ranks)
                foreach (var (node, rank) in ParameterMap.ParseInts(ranks))
                    ranksByNode[node] = rank;
            var rounding = RoundingParameter.Parse(step.Parameter(PassCatalog.RoundingParameter));
            if (step.Pass is PassCatalog.Palettize or PassCatalog.PruneWeights && step.Parameter(PassParameters.Bits) is { } bits)
            {
                var sparsity = step.Parameter(PassParameters.Sparsity) is { } text ? ParameterMap.ParseFractions(text) : new Dictionary<string, double>();
                foreach (var (node, width) in ParameterMap.ParseInts(bits))
                {
                    var layer = LayerOfFactor(node) ?? node;
                    sketch = sketch.With(layer, new LayerSetting(WeightFormat.Palette, width, ranksByNode.GetValueOrDefault(layer), sparsity.GetValueOrDefault(node), rounding));
                }
            }
            if (FormatOf(step.Pass) is not { } format || step.Parameter(PassCatalog.NodesParameter) is not { } nodes) continue;
            foreach (var node in nodes.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                var layer = LayerOfFactor(node) ?? node;
                sketch = sketch.With(layer, new LayerSetting(format, Rank: ranksByNode.GetValueOrDefault(layer), Rounding: rounding));
            }
        }
        return sketch;
    }

    private static string? LayerOfFactor(string node)
    {
        foreach (var suffix in new[] { LowRankFactorization.FirstFactorName(""), LowRankFactorization.SecondFactorName("") })
            if (node.EndsWith(suffix, StringComparison.Ordinal)) return node[..^suffix.Length];
        return null;
    }

    private static WeightFormat? FormatOf(string pass) => pass switch
    {
        PassCatalog.Int8Weights or PassCatalog.Int8Static or PassCatalog.Int8Dynamic => WeightFormat.Int8,
        PassCatalog.Int4Weights => WeightFormat.Int4,
        PassCatalog.Fp16Weights => WeightFormat.Fp16,
        _ => null,
    };

    /// <summary>One palette per 16 output channels (measured on fashion-cnn at 3 bits: 90.0% against 89.5% per tensor).</summary>
    private static readonly KeyValuePair<string, string>[] PaletteLayout =
        [KeyValuePair.Create(PassParameters.Granularity, "channel-group"), KeyValuePair.Create(PassParameters.GroupSize, "16")];

    private static readonly Rounding[] Roundings = [Rounding.Nearest, Rounding.Hessian];

    private static (string Name, string Value)[] RoundingPair(Rounding rounding) =>
        RoundingParameter.Of(rounding).Select(p => (p.Key, p.Value)).ToArray();

    // The nodes holding the weights of the layers stored in this format (with this rounding, when given): a factored layer's two factors.
    private static List<string> NodesWith(CompressionSketch sketch, WeightFormat format, Rounding? rounding = null) =>
        sketch.Layers.Where(l => l.Value.Format == format && l.Value.Sparsity == 0 && (rounding is null || l.Value.Rounding == rounding))
            .SelectMany(l => WeightNodes(l.Key, l.Value)).ToList();

    private static IEnumerable<string> WeightNodes(string layer, LayerSetting setting) =>
        setting.Rank > 0 ? [LowRankFactorization.FirstFactorName(layer), LowRankFactorization.SecondFactorName(layer)] : [layer];
}
