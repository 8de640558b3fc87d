using System.Collections.Immutable;

namespace ModelCompression.Core.Planning;

/// <summary>A trained weights file: its name beside the lock and its content hash.</summary>
public sealed record DistilledWeights(string File, string Sha256);

/// <summary>
/// A plan in the planner's terms: the share of channels pruned in each channel group it prunes, and the
/// setting of every layer it changes (the others stay as they are).
/// </summary>
public sealed record CompressionSketch(ImmutableSortedDictionary<string, LayerSetting> Layers, ImmutableSortedDictionary<string, double> Pruning)
{
    public static CompressionSketch Unchanged { get; } = new(
        ImmutableSortedDictionary.Create<string, LayerSetting>(StringComparer.Ordinal),
        ImmutableSortedDictionary.Create<string, double>(StringComparer.Ordinal));

    public CompressionSketch With(string node, LayerSetting setting) =>
        this with { Layers = setting == LayerSetting.Float ? Layers.Remove(node) : Layers.SetItem(node, setting) };

    public CompressionSketch WithPruning(string group, double ratio) =>
        this with { Pruning = ratio == 0 ? Pruning.Remove(group) : Pruning.SetItem(group, ratio) };

    public LayerSetting SettingOf(string node) => Layers.GetValueOrDefault(node, LayerSetting.Float);

    /// <summary>The weights distillation trained for this sketch's structure, put in place before storage; null when not distilled.</summary>
    public DistilledWeights? Distilled { get; init; }

    /// <summary>Only int8/int4/fp16 storage: no pruning, factorization, sparsity or palette (the quantization-only family).</summary>
    public bool IsQuantizationOnly => Pruning.Count == 0 && Layers.Values.All(LayerSetting.IsQuantization);

    // Value equality over the contents (immutable dictionaries compare by reference).
    public bool Equals(CompressionSketch? other) =>
        other is not null && Layers.SequenceEqual(other.Layers) && Pruning.SequenceEqual(other.Pruning) && Distilled == other.Distilled;

    public override int GetHashCode() =>
        HashCode.Combine(Layers.Count, Pruning.Count, string.Join(";", Layers.Keys), string.Join(";", Pruning.Keys));

    /// <summary>E.g. "int4 ×2, int8 ×4 (int8 static entropy; int4 block 64)"; layers left fp32 are counted when some are compressed.</summary>
    public string Describe(QuantizationKnobs knobs, int layerCount)
    {
        var counts = Layers.Values.GroupBy(s => s).OrderBy(g => g.Key.NominalBits).ThenBy(g => g.Key.ToString(), StringComparer.Ordinal)
            .Select(g => $"{g.Key} ×{g.Count()}").ToList();
        var unchanged = layerCount - Layers.Count;
        if (counts.Count == 0 && Pruning.Count == 0) return "fp32";
        if (unchanged > 0 && counts.Count > 0) counts.Add($"fp32 ×{unchanged}");
        counts.InsertRange(0, Pruning.Values.GroupBy(r => r).OrderByDescending(g => g.Key)
            .Select(g => $"{(g.Key * 100).ToString("0", System.Globalization.CultureInfo.InvariantCulture)}% channels pruned ×{g.Count()}"));
        var details = new List<string>();
        if (Layers.Values.Any(s => s.Format == WeightFormat.Int8) && knobs.Int8 != Int8Form.Weights) details.Add($"int8 {knobs.Int8Text}");
        if (Layers.Values.Any(s => s.Format == WeightFormat.Int4)) details.Add($"int4 {knobs.Int4Text}");
        if (knobs.BiasCorrection) details.Add(knobs.AnalyticCorrection ? "bias-corrected from input means" : "bias-corrected");
        if (knobs.FoldFactors && Layers.Values.Any(s => s.Rank > 0)) details.Add("factors folded at load");
        if (Distilled is not null) details.Add("distilled");
        return string.Join(", ", counts) + (details.Count > 0 ? $" ({string.Join("; ", details)})" : "");
    }
}
