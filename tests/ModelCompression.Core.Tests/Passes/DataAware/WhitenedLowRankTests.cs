using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.DataAware;

public sealed class WhitenedLowRankTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(24)]
    public void Whitened_factors_have_a_smaller_held_out_output_error_than_the_plain_svd_at_the_same_rank(int rank)
    {
        var layer = new SyntheticLayer(64, 96);
        var (m, n) = (layer.Inputs, layer.Outputs);
        var weight = new WeightRows(n, m, 1, Transposed: true).Tensor<float>(layer.Weights); // inputs × outputs

        var plain = WeightSpectrum.Of(weight, m, n).Factors(rank);
        var whitened = WhitenedLowRank.Factors(weight, m, n, rank, layer.Hessian, new SpectrumCache());

        Assert.Equal((plain.First.Length, plain.Second.Length), (whitened.First.Length, whitened.Second.Length));
        var (svd, hessian) = (layer.Error(Rows(plain, m, n, rank)), layer.Error(Rows(whitened, m, n, rank)));
        Assert.True(hessian < 0.9 * svd, $"whitened {hessian:E3} against plain {svd:E3}");
    }

    [Fact]
    public void The_second_factors_moments_are_those_of_the_first_factors_output()
    {
        var layer = new SyntheticLayer(32, 48);
        const int rank = 6;
        var weight = new WeightRows(32, 48, 1, Transposed: true).Tensor<float>(layer.Weights);
        var (first, _) = WhitenedLowRank.Factors(weight, 48, 32, rank, layer.Hessian, new SpectrumCache());

        var derived = WhitenedLowRank.SecondFactorMoments(layer.Moments, first, rank);
        var direct = CorrelatedInputs.Moments(Multiply(layer.Calibration, first, 48, rank), rank);

        Assert.Equal((rank, 1, layer.Moments.Rows), (derived.Dimension, derived.Groups, derived.Rows));
        var scale = direct.Matrix.Max(Math.Abs);
        Assert.All(direct.Matrix.Zip(derived.Matrix), p => Assert.True(Math.Abs(p.First - p.Second) < 1e-4 * scale, $"{p.First} ≠ {p.Second}"));
    }

    // The product A·B (m × n) as rows [n, m].
    private static float[] Rows((float[] First, float[] Second) factors, int m, int n, int rank)
    {
        var rows = new float[n * m];
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var r = 0; r < rank; r++) sum += (double)factors.First[i * rank + r] * factors.Second[r * n + j];
                rows[j * m + i] = (float)sum;
            }
        return rows;
    }

    private static float[] Multiply(float[] x, float[] a, int m, int rank)
    {
        var count = x.Length / m;
        var result = new float[count * rank];
        for (var r = 0; r < count; r++)
            for (var j = 0; j < rank; j++)
            {
                double sum = 0;
                for (var i = 0; i < m; i++) sum += (double)x[r * m + i] * a[i * rank + j];
                result[r * rank + j] = (float)sum;
            }
        return result;
    }
}
