using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Planning.Registry;

namespace ModelCompression.Core.Planning;

/// <summary>A layer and the settings the plan may give it (fp32, unchanged, is always possible and not listed).</summary>
public sealed record LayerSpace(string Node, string OpType, long Parameters, IReadOnlyList<LayerSetting> Settings);

/// <summary>A group of coupled channels and the shares of them the plan may prune (0, unpruned, is always possible and not listed).</summary>
public sealed record PruningSpace(string Group, long Parameters, IReadOnlyList<double> Ratios);

/// <summary>
/// What the planner may do to a (lossless-processed) model, given the techniques: per layer the
/// settings the registered techniques offer (<see cref="TechniqueRegistry"/>), which int8 layers static or dynamic quantization can take, and the shared
/// knobs worth trying.
/// </summary>
public sealed class CompressionSpace
{
    private CompressionSpace(IReadOnlyList<LayerSpace> layers, IReadOnlyList<PruningSpace> pruning, IReadOnlySet<string> staticEligible, IReadOnlySet<string> dynamicEligible)
    {
        Layers = layers;
        Pruning = pruning;
        StaticEligible = staticEligible;
        DynamicEligible = dynamicEligible;
    }

    /// <summary>
    /// A space of the given layers and channel groups (for tests of the planner): static int8 can take
    /// <paramref name="staticEligible"/>, dynamic int8 no layer.
    /// </summary>
    public static CompressionSpace Of(IReadOnlyList<LayerSpace> layers, IReadOnlyList<PruningSpace> pruning, IEnumerable<string>? staticEligible = null) =>
        new(layers, pruning, (staticEligible ?? []).ToHashSet(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal));

    public IReadOnlyList<LayerSpace> Layers { get; }

    /// <summary>The prunable channel groups (structured pruning), by their group id.</summary>
    public IReadOnlyList<PruningSpace> Pruning { get; }

    /// <summary>Layers static int8 (QDQ) can take: empty for models before opset 13.</summary>
    public IReadOnlySet<string> StaticEligible { get; }

    /// <summary>Layers dynamic int8 can take (MatMul/Gemm with constant weights).</summary>
    public IReadOnlySet<string> DynamicEligible { get; }

    /// <summary>What every registered technique allowed in <paramref name="techniques"/> offers <paramref name="model"/>.</summary>
    /// <param name="dataAwareRounding">Offer each option's data-aware twin too (<see cref="DataAwareRoundingTechnique"/>).</param>
    public static CompressionSpace Find(ModelProto model, Technique techniques, bool dataAwareRounding = true)
    {
        var options = new LayerOptions(model, techniques, dataAwareRounding);
        foreach (var technique in TechniqueRegistry.All.Where(t => techniques.HasFlag(t.Flag)))
            technique.Offer(options);
        var layers = options.Layers();
        var int8Layers = layers.Where(l => l.Settings.Any(s => s.Format == WeightFormat.Int8)).Select(l => l.Node).ToHashSet(StringComparer.Ordinal);
        return new CompressionSpace(layers, options.Pruning,
            Int8StaticQuantization.EligibleNodes(model).Where(int8Layers.Contains).ToHashSet(StringComparer.Ordinal),
            Int8DynamicQuantization.EligibleNodes(model).Where(int8Layers.Contains).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>The int8 forms worth trying: weights only (never slower), static with each calibration method, dynamic.</summary>
    public IReadOnlyList<QuantizationKnobs> Int8Variants()
    {
        var variants = new List<QuantizationKnobs> { QuantizationKnobs.Default };
        if (StaticEligible.Count > 0)
            variants.AddRange(new[] { "minmax", "percentile", "entropy" }.Select(c => QuantizationKnobs.Default with { Int8 = Int8Form.Static, Calibration = c }));
        if (DynamicEligible.Count > 0) variants.Add(QuantizationKnobs.Default with { Int8 = Int8Form.Dynamic });
        return variants;
    }

    /// <summary>The int4 settings worth trying (measured on fashion-cnn: blocks of 64–128 hold accuracy; accuracy level 4 is 13% faster).</summary>
    public IReadOnlyList<QuantizationKnobs> Int4Variants(QuantizationKnobs on)
    {
        if (!Layers.Any(l => l.Settings.Any(s => s.Format == WeightFormat.Int4))) return [on];
        return [on, on with { Int4BlockSize = 32 }, on with { Int4BlockSize = 128 }, on with { Int4AccuracyLevel = 4 }, on with { Int4BlockSize = 128, Int4AccuracyLevel = 4 }];
    }
}
