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
        // The palettes are the importance-weighted k-means; only the codes come from the GPTQ sweep.
        Assert.Equal(PalettizedValues.FitWeighted(tensor, HessianWeightedKMeans.Importance(rowsView, [layer.Hessian], tensor.Length), bits, 1, new int[tensor.Length]).Table, weighted.Table);
        var (nearest, hessian) = (layer.Error(rowsView.Rows(plain.Decode())), layer.Error(rowsView.Rows(weighted.Decode())));
        Assert.True(hessian < 0.8 * nearest, $"Hessian-weighted {hessian:E3} against plain {nearest:E3}");
    }

    [Fact]
    public void Equal_importance_gives_the_plain_k_means_palette()
    {
        var values = Enumerable.Range(0, 500).Select(i => MathF.Sin(i * 0.37f) * (1 + i % 7)).ToArray();
        Assert.Equal(KMeans1D.Fit(values, 8), KMeans1D.Fit(values, Enumerable.Repeat(2.5, values.Length).ToArray(), 8));
    }
}
