using ModelCompression.Core.Passes.Sparsity;

namespace ModelCompression.Core.Tests.Passes.Sparsity;

public class MagnitudeThresholdTests
{
    [Fact]
    public void The_smallest_magnitudes_are_zeroed_exactly_floor_of_sparsity_times_count()
    {
        float[] values = [0.5f, -0.1f, 0.3f, -0.7f, 0.2f, 0f, 0.9f];

        var pruned = MagnitudeThreshold.Prune([values], 0.5)[0]; // ⌊3.5⌋ = 3: 0, -0.1, 0.2

        Assert.Equal([0.5f, 0f, 0.3f, -0.7f, 0f, 0f, 0.9f], pruned);
        Assert.Equal(3 / 7.0, MagnitudeThreshold.SparsityOf(pruned), 1e-12);
        Assert.Equal([0.5f, -0.1f, 0.3f, -0.7f, 0.2f, 0f, 0.9f], values); // the input is not modified
    }

    [Fact]
    public void Ties_at_the_threshold_are_broken_by_position()
    {
        float[] values = [0.2f, -0.2f, 0.2f, 0.1f, 0.2f];

        var pruned = MagnitudeThreshold.Prune([values], 0.6)[0]; // 3: 0.1, then the first two of the four 0.2s

        Assert.Equal([0f, 0f, 0.2f, 0f, 0.2f], pruned);
    }

    [Fact]
    public void One_global_threshold_takes_more_from_the_tensor_with_smaller_weights()
    {
        var small = Enumerable.Range(1, 100).Select(i => i * 0.001f).ToArray();
        var large = Enumerable.Range(1, 100).Select(i => i * 0.01f).ToArray();

        var pruned = MagnitudeThreshold.Prune([small, large], 0.5);

        var zeros = pruned.Select(t => t.Count(v => v == 0f)).ToArray();
        Assert.Equal(100, zeros.Sum());
        Assert.True(zeros[0] > 80 && zeros[1] < 20, $"zeros: {zeros[0]} small, {zeros[1]} large");
        Assert.Equal(50, MagnitudeThreshold.Prune([small], 0.5)[0].Count(v => v == 0f));
    }

    [Fact]
    public void Zero_sparsity_changes_nothing_and_out_of_range_targets_are_refused()
    {
        float[] values = [1f, -2f];
        Assert.Equal(values, MagnitudeThreshold.Prune([values], 0)[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => MagnitudeThreshold.Prune([values], 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SparsityTarget.Layers(new Dictionary<string, double> { ["a"] = 1.0 }));
    }

    [Theory]
    [InlineData(0.5, 32, 17.0)]
    [InlineData(0.9, 4, 1.4)]
    [InlineData(0.75, 16, 5.0)]
    public void Bits_per_weight_follow_one_plus_density_times_value_bits(double sparsity, int bits, double expected)
    {
        Assert.Equal(expected, SparseEncoding.MaskedBitsPerWeight(sparsity, bits), 1e-12);
        Assert.Equal(1.0 / bits, SparseEncoding.BreakEvenSparsity(bits), 1e-12);
    }
}
