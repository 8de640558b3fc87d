using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Pruning.PruningTestKit;

namespace ModelCompression.Core.Tests.Passes.Pruning;

/// <summary>Which channels go (importance criteria, group aggregation, counts) and the pass's parameters.</summary>
public class ChannelPruningTests
{
    /// <summary>x [1,3,1,1] → conv_a (W from <paramref name="filters"/>, one row per channel) → conv_b (all ones) → y.</summary>
    private static ModelProto Producer(float[][] filters)
    {
        var channels = filters.Length;
        return new OnnxBuilder().Input("x", DataType.Float, 1, 3, 1, 1)
            .Initializer("a.w", filters.SelectMany(f => f).ToArray(), channels, 3, 1, 1)
            .Initializer("b.w", Enumerable.Repeat(1f, 2 * channels).ToArray(), 2, channels, 1, 1)
            .Node("Conv", ["x", "a.w"], ["a"], "conv_a")
            .Node("Conv", ["a", "b.w"], ["y"], "conv_b")
            .Output("y", DataType.Float, 1, 2, 1, 1).Build();
    }

    // The first value of each remaining filter of conv_a, which identifies it in these tests.
    private static float[] RemainingFilters(ModelProto model, int width = 3)
    {
        var w = TensorProtoConverter.ToNdArray(model.Graph.Initializer.Single(t => t.Name == "a.w")).ToFloats();
        return Enumerable.Range(0, w.Length / width).Select(i => w[i * width]).ToArray();
    }

    [Theory]
    [InlineData(ImportanceCriterion.L1, new[] { 1f, 5f })]               // [3,0,0] has the smallest sum: 3 < 3.3
    [InlineData(ImportanceCriterion.L2, new[] { 3f, 5f })]               // [1.1,1.1,1.1] has the smallest norm: 1.9 < 3
    public void L1_and_l2_rank_filters_by_their_norm(ImportanceCriterion criterion, float[] remaining)
    {
        var model = Producer([[1.1f, 1.1f, 1.1f], [3f, 0f, 0f], [5f, 5f, 5f]]);
        var pruned = model.Clone();

        Assert.Equal(1, new ChannelPruning(new Dictionary<string, double> { ["conv_a"] = 0.34 }, criterion, channelMultiple: 1).Apply(pruned));

        Assert.Equal(remaining.Select(v => v == 1f ? 1.1f : v), RemainingFilters(pruned));
    }

    [Fact]
    public void The_geometric_median_criterion_removes_the_filter_the_others_can_replace()
    {
        // [0.4,0.4,0.4] sits between the other two (distance sum 1.65 against 2.23) though its L1 norm is the largest.
        var model = Producer([[1f, 0f, 0f], [0f, 1f, 0f], [0.4f, 0.4f, 0.4f]]);
        var l1 = model.Clone();
        var median = model.Clone();

        new ChannelPruning(new Dictionary<string, double> { ["conv_a"] = 0.34 }, ImportanceCriterion.L1, 1).Apply(l1);
        new ChannelPruning(new Dictionary<string, double> { ["conv_a"] = 0.34 }, ImportanceCriterion.GeometricMedian, 1).Apply(median);

        Assert.Equal([0f, 0.4f], RemainingFilters(l1)); // L1 ties [1,0,0] with [0,1,0]: the earlier one goes
        Assert.Equal([1f, 0f], RemainingFilters(median));
    }

    [Fact]
    public void A_group_sums_the_normalized_norms_of_its_layers()
    {
        // conv_a and conv_c meet in an Add. Channel 0 is tiny in conv_a but dominant in conv_c; channel 1 is
        // mid-sized in both. Per layer, conv_a alone would drop channel 0; normalized by each layer's mean and
        // summed (A: [0.01, 1.33, 1.33, 1.33], C: [3.2, 0.16, 0.32, 0.32]), channel 1 is the least important.
        float[] a = [0.01f, 1f, 1f, 1f];
        float[] c = [10f, 0.5f, 1f, 1f];
        var model = new OnnxBuilder().Input("x", DataType.Float, 1, 1, 1, 1)
            .Initializer("a.w", a, 4, 1, 1, 1).Initializer("c.w", c, 4, 1, 1, 1)
            .Initializer("d.w", Enumerable.Repeat(1f, 4).ToArray(), 1, 4, 1, 1)
            .Node("Conv", ["x", "a.w"], ["ya"], "conv_a")
            .Node("Conv", ["x", "c.w"], ["yc"], "conv_c")
            .Node("Add", ["ya", "yc"], ["s"], "add")
            .Node("Conv", ["s", "d.w"], ["y"], "conv_d")
            .Output("y", DataType.Float, 1, 1, 1, 1).Build();

        var pruned = model.Clone();
        Assert.Equal(1, Prune(("conv_a", 0.25)).Apply(pruned));

        Assert.Equal([0.01f, 1f, 1f], RemainingFilters(pruned, width: 1));
        Assert.Equal([10f, 1f, 1f], TensorProtoConverter.ToNdArray(pruned.Graph.Initializer.Single(t => t.Name == "c.w")).ToFloats());
    }

    [Theory]
    [InlineData(32, 0.25, 1, 8)]    // plain: ⌊32·0.25⌋
    [InlineData(32, 0.25, 16, 0)]   // 24 kept rounds to 32 (a tie goes to keeping more)
    [InlineData(32, 0.3, 16, 16)]   // 23 kept rounds to 16
    [InlineData(32, 0.25, 8, 8)]    // 24 is a multiple of 8
    [InlineData(200, 0.25, 16, 48)] // 200 = 8·25: kept 150 rounds to 152
    [InlineData(22, 0.25, 16, 4)]   // 22 = 2·11: kept 17 rounds to 18
    [InlineData(8, 0.99, 16, 0)]    // at least one alignment unit is kept: 8
    [InlineData(8, 0.99, 1, 7)]     // at least one channel is kept
    [InlineData(1, 0.5, 1, 0)]
    public void Removed_counts_keep_channel_counts_aligned(int channels, double ratio, int multiple, int removed)
    {
        var group = new ChannelGroup("g", channels, ["g"], ["g"], ["g"], 0, null);

        Assert.Equal(removed, group.ChannelsRemovedAt(ratio, multiple));
    }

    [Fact]
    public void Ratios_must_name_prunable_groups_and_lie_in_zero_to_one()
    {
        var model = Producer([[1f, 2f, 3f], [4f, 5f, 6f]]);

        Assert.Throws<ArgumentOutOfRangeException>(() => Prune(("conv_a", 1.0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Prune(("conv_a", -0.1)));
        var unknown = Assert.Throws<ArgumentException>(() => Prune(("conv_x", 0.5)).Apply(model.Clone()));
        Assert.Contains("no channel group 'conv_x'", unknown.Message);
        var refused = Assert.Throws<ArgumentException>(() => Prune(("conv_b", 0.5)).Apply(model.Clone()));
        Assert.Contains("graph output", refused.Message);
        var unchanged = model.Clone();
        Assert.Equal(0, Prune(("conv_b", 0)).Apply(unchanged)); // a zero ratio asks nothing, even of a refused group
        Assert.Equal(model, unchanged);
    }

    [Fact]
    public void Plan_parameters_round_trip()
    {
        var ratios = new Dictionary<string, double> { ["/b/Conv"] = 0.5, ["/a/Conv"] = 0.125, ["x=y"] = 0.1 };

        var text = ChannelPruning.FormatRatios(ratios);

        Assert.Equal("/a/Conv=0.125;/b/Conv=0.5;x=y=0.1", text);
        Assert.Equal(ratios, ChannelPruning.ParseRatios(text));
        Assert.Throws<FormatException>(() => ChannelPruning.ParseRatios("a=b"));
        foreach (var criterion in Enum.GetValues<ImportanceCriterion>())
            Assert.Equal(criterion, ChannelPruning.ParseCriterion(ChannelPruning.FormatCriterion(criterion)));
        Assert.Equal("prune-channels", Prune().Name);
    }
}
