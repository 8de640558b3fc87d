using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.Core.Tests.Passes.DataAware;

public sealed class HessianWeightedKMeansTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public void Palettes_weighted_by_the_inputs_second_moments_with_gptq_codes_have_a_smaller_held_out_output_error(int bits)
    {
        var layer = new SyntheticLayer(64, 96);
        // As a MatMul stores it: B [K, N], the transpose of the rows.
        var rowsView = new WeightRows(64, 96, 1, Transposed: true);
        var tensor = rowsView.Tensor<float>(layer.Weights);

        var plain = PalettizedValues.Fit(tensor, bits);
        var weighted = HessianWeightedKMeans.Fit(tensor, bits, 1, new int[tensor.Length], rowsView, [layer.Hessian]);

        Assert.Equal((plain.Bits, plain.Groups, plain.Table.Length, plain.Codes.Length), (weighted.Bits, weighted.Groups, weighted.Table.Length, weighted.Codes.Length));
        var (nearest, hessian) = (layer.Error(rowsView.Rows(plain.Decode())), layer.Error(rowsView.Rows(weighted.Decode())));
        Assert.True(hessian < 0.8 * nearest, $"Hessian-weighted {hessian:E3} against plain {nearest:E3}");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Entries_refitted_to_the_gptq_codes_lower_the_output_error_of_the_k_means_entries(int bits)
    {
        var layer = new SyntheticLayer(64, 96, seed: 11);
        var rowsView = new WeightRows(64, 96, 1, Transposed: true);
        var tensor = rowsView.Tensor<float>(layer.Weights);
        var groupOf = Enumerable.Range(0, tensor.Length).Select(i => i % 64 / 16).ToArray(); // [K, N]: a palette per 16 outputs

        var refitted = HessianWeightedKMeans.Fit(tensor, bits, 4, groupOf, rowsView, [layer.Hessian], refitEntries: true);
        // The same codes over the importance-weighted k-means entries: what the sweep chose them against.
        var kMeans = PalettizedValues.FitWeighted(tensor, HessianWeightedKMeans.Importance(rowsView, [layer.Hessian], tensor.Length), bits, 4, groupOf).WithCodes(refitted.Codes);

        Assert.NotEqual(kMeans.Table, refitted.Table);
        var (before, after) = (layer.Error(rowsView.Rows(kMeans.Decode())), layer.Error(rowsView.Rows(refitted.Decode())));
        Assert.True(after < before, $"refitted {after:E3} against k-means {before:E3} on held-out inputs");
    }

    [Fact]
    public void Equal_importance_gives_the_plain_k_means_palette()
    {
        var values = Enumerable.Range(0, 500).Select(i => MathF.Sin(i * 0.37f) * (1 + i % 7)).ToArray();
        Assert.Equal(KMeans1D.Fit(values, 8), KMeans1D.Fit(values, Enumerable.Repeat(2.5, values.Length).ToArray(), 8));
    }
}
