using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning;

/// <summary>A layer and the settings the plan may give it (fp32, unchanged, is always possible and not listed).</summary>
public sealed record LayerSpace(string Node, string OpType, long Parameters, IReadOnlyList<LayerSetting> Settings);

/// <summary>A group of coupled channels and the shares of them the plan may prune (0, unpruned, is always possible and not listed).</summary>
public sealed record PruningSpace(string Group, long Parameters, IReadOnlyList<double> Ratios);

/// <summary>
/// What the planner may do to a (lossless-processed) model, given the techniques: per layer the
/// settings it allows, which int8 layers static or dynamic quantization can take, and the shared
/// knobs worth trying.
/// </summary>
public sealed class CompressionSpace
{
    /// <summary>The channel shares tried per group: a quarter and a half (pruning without fine-tuning loses accuracy quickly).</summary>
    public static IReadOnlyList<double> PruningRatios { get; } = [0.25, 0.5];

    private CompressionSpace(IReadOnlyList<LayerSpace> layers, IReadOnlyList<PruningSpace> pruning, IReadOnlySet<string> staticEligible, IReadOnlySet<string> dynamicEligible)
    {
        Layers = layers;
        Pruning = pruning;
        StaticEligible = staticEligible;
        DynamicEligible = dynamicEligible;
    }

    /// <summary>A space of the given layers and channel groups, with no layer static or dynamic int8 can take (for tests of the planner).</summary>
    public static CompressionSpace Of(IReadOnlyList<LayerSpace> layers, IReadOnlyList<PruningSpace> pruning) =>
        new(layers, pruning, new HashSet<string>(StringComparer.Ordinal), new HashSet<string>(StringComparer.Ordinal));

    public IReadOnlyList<LayerSpace> Layers { get; }

    /// <summary>The prunable channel groups (structured pruning), by their group id.</summary>
    public IReadOnlyList<PruningSpace> Pruning { get; }

    /// <summary>Layers static int8 (QDQ) can take: empty for models before opset 13.</summary>
    public IReadOnlySet<string> StaticEligible { get; }

    /// <summary>Layers dynamic int8 can take (MatMul/Gemm with constant weights).</summary>
    public IReadOnlySet<string> DynamicEligible { get; }

    public static CompressionSpace Find(ModelProto model, Technique techniques)
    {
        var settings = new Dictionary<string, List<LayerSetting>>(StringComparer.Ordinal);
        var parameters = new Dictionary<string, long>(StringComparer.Ordinal);
        var opTypes = new Dictionary<string, string>(StringComparer.Ordinal);
        void Allow(IEnumerable<QuantizableWeight> weights, Technique technique, LayerSetting setting)
        {
            if (!techniques.HasFlag(technique)) return;
            foreach (var node in weights.Select(w => w.Node).DistinctBy(n => n.Name))
            {
                if (!settings.TryGetValue(node.Name, out var list)) settings[node.Name] = list = [];
                list.Add(setting);
                opTypes[node.Name] = node.OpType;
            }
        }
        var int8 = Int8WeightQuantization.Eligible(model);
        foreach (var group in int8.GroupBy(w => w.Node.Name))
            parameters[group.Key] = group.Sum(w => TensorProtoConverter.ElementCount(w.Initializer));
        Allow(Fp16WeightConversion.Eligible(model), Technique.Fp16, new LayerSetting(WeightFormat.Fp16));
        Allow(int8, Technique.Int8, new LayerSetting(WeightFormat.Int8));
        Allow(Int4WeightQuantization.Eligible(model), Technique.Int4, new LayerSetting(WeightFormat.Int4));

        AllowPalettes(model, techniques, settings, parameters, opTypes);
        AllowLowRank(model, techniques, settings, parameters, opTypes);
        AllowSparsity(model, techniques, settings, parameters, opTypes);
        var layers = settings
            .Select(s => new LayerSpace(s.Key, opTypes[s.Key], parameters.GetValueOrDefault(s.Key), s.Value.OrderByDescending(v => v.NominalBits).ToList()))
            .OrderBy(l => l.Node, StringComparer.Ordinal)
            .ToList();
        var int8Layers = layers.Where(l => l.Settings.Any(s => s.Format == WeightFormat.Int8)).Select(l => l.Node).ToHashSet(StringComparer.Ordinal);
        var pruning = techniques.HasFlag(Technique.Prune)
            ? ChannelPruning.Groups(model).Where(g => g.IsPrunable && g.Channels > 1)
                .Select(g => new PruningSpace(g.Id, g.Parameters, PruningRatios.Where(r => g.ChannelsRemovedAt(r, ChannelPruning.DefaultChannelMultiple) > 0).ToList()))
                .Where(p => p.Ratios.Count > 0).ToList()
            : [];
        return new CompressionSpace(layers, pruning,
            Int8StaticQuantization.EligibleNodes(model).Where(int8Layers.Contains).ToHashSet(StringComparer.Ordinal),
            Int8DynamicQuantization.EligibleNodes(model).Where(int8Layers.Contains).ToHashSet(StringComparer.Ordinal));
    }

    /// <summary>
    /// Low-rank options for the layers that hold a real share of the weights (at least
    /// <see cref="LowRankMinShare"/> of them, and 4096 elements): ranks at a quarter down to a
    /// thirty-second of the largest useful rank (seven steps), each with the factors stored int8 or int4 (MatMul/Gemm).
    /// Ranks are tried by measured accuracy, not by retained energy: fashion-cnn's big Gemm keeps
    /// only 52% of its energy at rank 16 yet loses 0.05 points.
    /// </summary>
    private static void AllowLowRank(ModelProto model, Technique techniques, Dictionary<string, List<LayerSetting>> settings,
        Dictionary<string, long> parameters, Dictionary<string, string> opTypes)
    {
        if (!techniques.HasFlag(Technique.LowRank)) return;
        var total = Math.Max(1, parameters.Values.Sum());
        foreach (var layer in LowRankFactorization.EligibleNodes(model))
        {
            if (layer.Parameters < 4096 || layer.Parameters < LowRankMinShare * total) continue;
            var ranks = new[] { 4, 6, 8, 12, 16, 24, 32 }.Select(f => layer.MaxUsefulRank / f).Where(r => r >= 4).Distinct();
            var formats = new List<WeightFormat>();
            if (techniques.HasFlag(Technique.Int8)) formats.Add(WeightFormat.Int8);
            if (techniques.HasFlag(Technique.Int4) && layer.OpType is "MatMul" or "Gemm") formats.Add(WeightFormat.Int4);
            if (!settings.TryGetValue(layer.Node, out var list)) settings[layer.Node] = list = [];
            list.AddRange(ranks.SelectMany(rank => formats.Select(format => new LayerSetting(format, Rank: rank))));
            if (techniques.HasFlag(Technique.Palettize))
                list.AddRange(ranks.SelectMany(rank => new[] { 4, 3 }.Select(bits => new LayerSetting(WeightFormat.Palette, bits, Rank: rank))));
            opTypes[layer.Node] = layer.OpType;
            parameters.TryAdd(layer.Node, layer.Parameters);
        }
    }

    /// <summary>The share of the model's weights a layer must hold for low-rank and sparsity options to be worth their probes.</summary>
    public const double LowRankMinShare = 0.02;

    /// <summary>The share of the model's weights a layer must hold for palettes narrower than 4 bits to be worth their probes.</summary>
    public const double NarrowPaletteMinShare = 0.01;

    /// <summary>
    /// Palettes (weight clustering, expanded when ONNX Runtime loads the model): 4-bit codes for every
    /// eligible layer, and 6, 3 and 2 bits too for the layers holding a real share of the weights.
    /// One palette per 16 output channels: on fashion-cnn at 3 bits that keeps 90.0% where one per tensor keeps 89.5%.
    /// </summary>
    private static void AllowPalettes(ModelProto model, Technique techniques, Dictionary<string, List<LayerSetting>> settings,
        Dictionary<string, long> parameters, Dictionary<string, string> opTypes)
    {
        if (!techniques.HasFlag(Technique.Palettize)) return;
        var total = Math.Max(1, parameters.Values.Sum());
        var types = Int8WeightQuantization.Eligible(model).GroupBy(w => w.Node.Name).ToDictionary(g => g.Key, g => g.First().Node.OpType);
        foreach (var node in WeightPalettization.EligibleNodes(model))
        {
            if (!types.TryGetValue(node, out var opType)) continue;
            var bits = parameters.GetValueOrDefault(node) >= NarrowPaletteMinShare * total ? new[] { 6, 4, 3, 2 } : [4];
            if (!settings.TryGetValue(node, out var list)) settings[node] = list = [];
            list.AddRange(bits.Select(b => new LayerSetting(WeightFormat.Palette, b)));
            opTypes[node] = opType;
        }
    }

    /// <summary>
    /// Magnitude pruning of the large layers, stored as a 1-bit mask plus the non-zeros' 4-bit palette codes:
    /// 1 + (1 − s)·4 bits per weight, which only pays well above a quarter of zeros (75% and 90% are tried).
    /// </summary>
    private static void AllowSparsity(ModelProto model, Technique techniques, Dictionary<string, List<LayerSetting>> settings,
        Dictionary<string, long> parameters, Dictionary<string, string> opTypes)
    {
        if (!techniques.HasFlag(Technique.Prune) || !techniques.HasFlag(Technique.Palettize)) return;
        var total = Math.Max(1, parameters.Values.Sum());
        var types = Int8WeightQuantization.Eligible(model).GroupBy(w => w.Node.Name).ToDictionary(g => g.Key, g => g.First().Node.OpType);
        foreach (var node in MagnitudePruning.EligibleNodes(model))
        {
            if (!types.TryGetValue(node, out var opType) || parameters.GetValueOrDefault(node) < LowRankMinShare * total) continue;
            if (!settings.TryGetValue(node, out var list)) settings[node] = list = [];
            list.AddRange(new[] { 0.75, 0.9 }.Select(s => new LayerSetting(WeightFormat.Palette, 4, Sparsity: s)));
            opTypes[node] = opType;
        }
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
