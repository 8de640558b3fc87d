using System.Globalization;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// Structured pruning: removes whole output channels of Conv, Gemm and MatMul layers, and with them the matching
/// input channels of every consumer, so the model really has smaller tensors and fewer FLOPs (no masks, no zeros
/// left in the file). Channels are pruned by group (<see cref="Groups"/>): all layers whose channels are coupled by
/// residual additions, elementwise products, depthwise convolutions, concatenations or reshapes lose the same
/// channels. Within a group the channels with the lowest importance (<see cref="ImportanceCriterion"/>, summed over
/// the group's layers) go. Only groups the dependency graph proves safe can be targeted.
/// </summary>
public sealed class ChannelPruning : IGraphPass
{
    public const string PassName = "prune-channels";

    /// <summary>Plan-step parameter: the ratio of each group, "groupId=ratio" pairs separated by ';' and sorted by group id.</summary>
    public const string RatiosParameter = "ratios";

    /// <summary>Plan-step parameter: "l1" (default), "l2" or "fpgm".</summary>
    public const string ImportanceParameter = "importance";

    /// <summary>
    /// ONNX Runtime's CPU convolutions use a blocked channel layout (NCHWc: blocks of 16 channels with AVX-512, 8 with
    /// AVX2) only when channel counts are multiples of the block, so removing channels can make a model slower.
    /// Measured with ORT 1.31 on AVX-512, batch 1, one thread: fashion-cnn's convolutions at 32/64 channels take 201 µs,
    /// pruned to 31/62 325 µs, to 24/48 166 µs, to 16/32 72 µs; every group pruned by 10% makes fashion-cnn 1.36× as
    /// slow as the original with exact counts and 0.98× with aligned ones, ppocr-cls at 25% 1.16× against 0.86×
    /// (medians of interleaved runs). So kept counts stay multiples of the power of two (up to 16) the original count
    /// was a multiple of.
    /// </summary>
    public const int DefaultChannelMultiple = 16;

    /// <param name="ratios">The share of channels to remove per group id (0 ≤ ratio &lt; 1): ⌊channels·ratio⌋, adjusted
    /// to keep counts aligned (<paramref name="channelMultiple"/>, <see cref="ChannelGroup.ChannelsRemovedAt"/>); at least
    /// one channel is kept. Groups not listed are left alone.</param>
    /// <param name="criterion">How channels are ranked.</param>
    /// <param name="channelMultiple">Keep channel counts multiples of the power of two (up to this) they were multiples of:
    /// see <see cref="DefaultChannelMultiple"/>. 1 removes exactly ⌊channels·ratio⌋.</param>
    public ChannelPruning(IReadOnlyDictionary<string, double> ratios, ImportanceCriterion criterion = ImportanceCriterion.L1,
        int channelMultiple = DefaultChannelMultiple)
    {
        if (channelMultiple < 1) throw new ArgumentOutOfRangeException(nameof(channelMultiple), channelMultiple, "The channel multiple must be at least 1.");
        foreach (var (group, ratio) in ratios)
            if (!(ratio >= 0 && ratio < 1))
                throw new ArgumentOutOfRangeException(nameof(ratios), ratio, $"The pruning ratio of group '{group}' must be in [0, 1).");
        Ratios = new SortedDictionary<string, double>(ratios.ToDictionary(), StringComparer.Ordinal);
        Criterion = criterion;
        ChannelMultiple = channelMultiple;
    }

    public string Name => PassName;

    public IReadOnlyDictionary<string, double> Ratios { get; }

    public ImportanceCriterion Criterion { get; }

    public int ChannelMultiple { get; }

    /// <summary>The channel groups of <paramref name="model"/>'s main graph, in graph order, with why each refused group is refused.</summary>
    public static IReadOnlyList<ChannelGroup> Groups(ModelProto model)
    {
        var deps = ChannelDependencies.Build(new ModelView(model));
        return deps.Groups.Select(g => Describe(deps, g)).ToList();
    }

    /// <summary>The same ratio for every prunable group of <paramref name="model"/>.</summary>
    public static ChannelPruning Uniform(ModelProto model, double ratio, ImportanceCriterion criterion = ImportanceCriterion.L1,
        int channelMultiple = DefaultChannelMultiple) =>
        new(Groups(model).Where(g => g.IsPrunable).ToDictionary(g => g.Id, _ => ratio), criterion, channelMultiple);

    /// <summary>Removes the channels; returns how many channels (coupled sets) were removed.</summary>
    /// <exception cref="ArgumentException">A ratio names a group the model does not have, or a refused group.</exception>
    public int Apply(ModelProto model)
    {
        var deps = ChannelDependencies.Build(new ModelView(model));
        var removed = ChannelsToRemove(deps);
        if (removed.Count == 0) return 0;
        ChannelRemoval.Apply(deps, deps.Classes.IdsOf(removed));
        return removed.Count;
    }

    /// <summary>The classes (coupled channels) the ratios remove: in each targeted group, the least important ones.</summary>
    internal IReadOnlySet<int> ChannelsToRemove(ChannelDependencies deps)
    {
        var groups = deps.Groups.ToDictionary(g => g.Id, StringComparer.Ordinal);
        var removed = new HashSet<int>();
        foreach (var (id, ratio) in Ratios)
        {
            if (!groups.TryGetValue(id, out var group))
                throw new ArgumentException($"The model has no channel group '{id}' (groups: {string.Join(", ", groups.Keys)}).", "model");
            if (ratio == 0) continue;
            if (group.RefusedBecause is { } why)
                throw new ArgumentException($"Channel group '{id}' cannot be pruned: {why}.", "model");
            var count = Describe(deps, group).ChannelsRemovedAt(ratio, ChannelMultiple);
            var scores = ChannelImportance.Score(deps, group, Criterion);
            // Lowest scores first; ties go to the earlier channel so that the result is deterministic.
            removed.UnionWith(group.Classes.Select((c, order) => (c, order))
                .OrderBy(x => scores[x.c]).ThenBy(x => x.order).Take(count).Select(x => x.c));
        }
        return removed;
    }

    /// <summary>"a=0.25;b=0.5": the <see cref="RatiosParameter"/> form, sorted by group id.</summary>
    public static string FormatRatios(IReadOnlyDictionary<string, double> ratios) => ParameterMap.Format(ratios);

    /// <summary>Reads the <see cref="RatiosParameter"/> form back.</summary>
    public static IReadOnlyDictionary<string, double> ParseRatios(string text) => ParameterMap.ParseFractions(text);

    public static ImportanceCriterion ParseCriterion(string text) => text switch
    {
        "l1" => ImportanceCriterion.L1,
        "l2" => ImportanceCriterion.L2,
        "fpgm" => ImportanceCriterion.GeometricMedian,
        _ => throw new FormatException($"Unknown channel importance '{text}' (expected l1, l2 or fpgm)."),
    };

    public static string FormatCriterion(ImportanceCriterion criterion) => criterion switch
    {
        ImportanceCriterion.L1 => "l1",
        ImportanceCriterion.L2 => "l2",
        ImportanceCriterion.GeometricMedian => "fpgm",
        _ => throw new ArgumentOutOfRangeException(nameof(criterion), criterion, null),
    };

    private static ChannelGroup Describe(ChannelDependencies deps, GroupChannels group)
    {
        var classes = group.Classes.ToHashSet();
        bool InGroup(int id) => id != ChannelLayout.Untracked && classes.Contains(deps.Classes.Find(id));
        var slices = deps.Slices.Where(s => s.Ids.Any(InGroup)).ToList();
        List<string> Names(IEnumerable<NodeProto> nodes) => nodes.Distinct().OrderBy(deps.PositionOf).Select(n => n.Name).ToList();
        var edited = slices.Select(s => s.Node)
            .Concat(deps.GroupAttributes.Where(g => g.Ids.Any(InGroup)).Select(g => g.Node))
            .Concat(deps.ShapeEntries.Where(e => e.Ids.Any(InGroup)).Select(e => e.Reader));
        long parameters = 0;
        foreach (var slice in slices)
            if (deps.Graph.ConstantTensor(slice.Node.Input[slice.Input]) is { } tensor)
            {
                var perPosition = tensor.Dims.Aggregate(1L, (a, d) => a * d) / Math.Max(1, tensor.Dims[slice.Axis]);
                parameters += perPosition * slice.Ids.Count(InGroup);
            }
        return new ChannelGroup(group.Id, group.Classes.Count, group.Producers.Select(p => p.Name).ToList(),
            Names(slices.Where(s => s.IsWeight).Select(s => s.Node)), Names(edited), parameters, group.RefusedBecause);
    }
}
