using System.Collections.Immutable;

namespace ModelCompression.Core.Planning;

/// <summary>A plan in the planner's terms: the setting of every layer it changes (the others stay fp32).</summary>
public sealed record CompressionSketch(ImmutableSortedDictionary<string, LayerSetting> Layers)
{
    public static CompressionSketch Unchanged { get; } = new(ImmutableSortedDictionary.Create<string, LayerSetting>(StringComparer.Ordinal));

    public CompressionSketch With(string node, LayerSetting setting) =>
        new(setting == LayerSetting.Float ? Layers.Remove(node) : Layers.SetItem(node, setting));

    public LayerSetting SettingOf(string node) => Layers.GetValueOrDefault(node, LayerSetting.Float);

    /// <summary>E.g. "int4 ×2, int8 ×4 (int8 static entropy; int4 block 64)"; layers left fp32 are counted when some are compressed.</summary>
    public string Describe(QuantizationKnobs knobs, int layerCount)
    {
        var counts = Layers.Values.GroupBy(s => s).OrderBy(g => g.Key.NominalBits).ThenBy(g => g.Key.ToString(), StringComparer.Ordinal)
            .Select(g => $"{g.Key} ×{g.Count()}").ToList();
        var unchanged = layerCount - Layers.Count;
        if (counts.Count == 0) return "fp32";
        if (unchanged > 0) counts.Add($"fp32 ×{unchanged}");
        var details = new List<string>();
        if (Layers.Values.Any(s => s.Format == WeightFormat.Int8) && knobs.Int8 != Int8Form.Weights) details.Add($"int8 {knobs.Int8Text}");
        if (Layers.Values.Any(s => s.Format == WeightFormat.Int4)) details.Add($"int4 {knobs.Int4Text}");
        return string.Join(", ", counts) + (details.Count > 0 ? $" ({string.Join("; ", details)})" : "");
    }
}
