using MathNet.Numerics.LinearAlgebra;
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
    public void Refitted_entries_solve_their_codes_normal_equations_with_each_rows_own_groups_h()
    {
        // Two groups of 9 rows and palettes of 6 rows: the middle palette's rows read both groups' H.
        const int outputs = 18, inputs = 40, rowsPerPalette = 6;
        var layer = new SyntheticLayer(outputs, inputs, seed: 3);
        var hessians = new[] { layer.Hessian, new SyntheticLayer(outputs, inputs, seed: 5).Hessian };
        var layout = new WeightRows(outputs, inputs, 2, Transposed: false);
        var paletteOf = Enumerable.Range(0, outputs * inputs).Select(i => i / inputs / rowsPerPalette).ToArray();

        var refitted = HessianWeightedKMeans.Fit(layer.Weights, 2, outputs / rowsPerPalette, paletteOf, layout, hessians, refitEntries: true);

        var decoded = refitted.Decode();
        for (var palette = 0; palette < outputs / rowsPerPalette; palette++)
        {
            var size = refitted.Codes.Where((_, i) => paletteOf[i] == palette).Max() + 1;
            var (a, b) = (new double[size, size], new double[size]);
            for (var r = palette * rowsPerPalette; r < (palette + 1) * rowsPerPalette; r++)
            {
                var h = hessians[r / layout.RowsPerGroup];
                for (var i = 0; i < inputs; i++)
                    for (var j = 0; j < inputs; j++)
                    {
                        var hij = h.Undampened[i * inputs + j] + (i == j ? h.DiagonalShift : 0);
                        a[refitted.Codes[r * inputs + i], refitted.Codes[r * inputs + j]] += hij;
                        b[refitted.Codes[r * inputs + i]] += hij * layer.Weights[r * inputs + j];
                    }
            }
            var entries = Matrix<double>.Build.DenseOfArray(a).Solve(MathNet.Numerics.LinearAlgebra.Vector<double>.Build.DenseOfArray(b));
            for (var r = palette * rowsPerPalette; r < (palette + 1) * rowsPerPalette; r++)
                for (var i = 0; i < inputs; i++)
                {
                    var expected = entries[refitted.Codes[r * inputs + i]];
                    Assert.True(Math.Abs(decoded[r * inputs + i] - expected) <= 1e-4 * Math.Abs(expected) + 1e-7, $"row {r}, input {i}: {decoded[r * inputs + i]} against {expected}");
                }
        }
    }

    [Fact]
    public void Equal_importance_gives_the_plain_k_means_palette()
    {
        var values = Enumerable.Range(0, 500).Select(i => MathF.Sin(i * 0.37f) * (1 + i % 7)).ToArray();
        Assert.Equal(KMeans1D.Fit(values, 8), KMeans1D.Fit(values, Enumerable.Repeat(2.5, values.Length).ToArray(), 8));
    }
}
