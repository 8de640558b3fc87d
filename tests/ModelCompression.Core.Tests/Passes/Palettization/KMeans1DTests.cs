using ModelCompression.Core.Passes.Palettization;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Palettization;

public class KMeans1DTests
{
    /// <summary>Σ (v − nearest centroid)².</summary>
    private static double Error(float[] values, float[] centroids) =>
        values.Sum(v => Math.Pow(v - centroids[PalettizedValues.Nearest(centroids, v)], 2));

    /// <summary>The optimal k-interval error by the plain O(k·n²) dynamic programme over the sorted values.</summary>
    private static double OptimalError(float[] values, int k)
    {
        var sorted = values.Select(v => (double)v).Order().ToArray();
        var n = sorted.Length;
        var (sum, squares) = (new double[n + 1], new double[n + 1]);
        for (var i = 0; i < n; i++) (sum[i + 1], squares[i + 1]) = (sum[i] + sorted[i], squares[i] + sorted[i] * sorted[i]);
        double Cost(int from, int to) => squares[to] - squares[from] - (sum[to] - sum[from]) * (sum[to] - sum[from]) / (to - from); // [from, to)
        var best = new double[n + 1];
        for (var j = 1; j <= n; j++) best[j] = Cost(0, j);
        for (var layer = 2; layer <= k; layer++)
        {
            var next = new double[n + 1];
            for (var j = 1; j <= n; j++)
            {
                next[j] = j < layer ? 0 : double.PositiveInfinity;
                for (var i = layer - 1; i < j; i++) next[j] = Math.Min(next[j], best[i] + Cost(i, j));
            }
            best = next;
        }
        return best[n];
    }

    [Fact]
    public void At_most_k_distinct_values_are_their_own_palette()
    {
        var values = Enumerable.Range(0, 1000).Select(i => (float)(i % 256) / 7 - 3).ToArray();

        var centroids = KMeans1D.Fit(values, 256);

        Assert.Equal(values.Distinct().Order(), centroids);
        Assert.Equal(0, Error(values, centroids));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(4, 2)]
    [InlineData(8, 3)]
    [InlineData(32, 4)]
    [InlineData(64, 5)]
    public void On_few_distinct_values_the_palette_is_the_optimum(int k, int seed)
    {
        var values = Values(400, seed).Select(v => v * v * v).ToArray(); // skewed, as weights are

        var centroids = KMeans1D.Fit(values, k);

        // Equal up to the float rounding of the centroids.
        Assert.Equal(k, centroids.Length);
        var optimal = OptimalError(values, k);
        Assert.Equal(optimal, Error(values, centroids), 1e-6 * optimal);
    }

    [Fact]
    public void On_many_distinct_values_the_atom_programme_and_lloyd_do_at_least_as_well_as_quantile_initialised_lloyd()
    {
        // 20,000 distinct values (Laplacian-like, as weights are): the programme runs on 4,096 atoms, then Lloyd on all
        // values. The plain O(k·n²) optimum is too slow here; 300 Lloyd iterations from quantiles are the usual method.
        var random = new Random(5);
        var values = Enumerable.Range(0, 20000).Select(_ => (float)(Math.Log(random.NextDouble() + 1e-9) * (random.Next(2) * 2 - 1) * 0.05)).ToArray();

        var centroids = KMeans1D.Fit(values, 16);

        var lloyd = QuantileLloyd(values, 16, 300);
        Assert.Equal(16, centroids.Length);
        Assert.True(Error(values, centroids) <= Error(values, lloyd) * 1.001,
            $"k-means error {Error(values, centroids)} vs quantile-initialised Lloyd {Error(values, lloyd)}");
    }

    [Fact]
    public void The_error_falls_as_the_palette_grows_and_fitting_is_deterministic()
    {
        var values = Values(5000, 7, 0.2f);
        var errors = Enumerable.Range(1, 8).Select(bits => Error(values, KMeans1D.Fit(values, 1 << bits))).ToArray();

        for (var i = 1; i < errors.Length; i++) Assert.True(errors[i] < errors[i - 1], $"{i + 1} bits: {errors[i]} vs {errors[i - 1]}");
        Assert.Equal(KMeans1D.Fit(values, 16), KMeans1D.Fit(values.Reverse().ToArray(), 16));
    }

    [Fact]
    public void Magnitude_weighting_moves_centroids_towards_large_values()
    {
        var values = Values(4000, 8);

        var plain = KMeans1D.Fit(values, 4);
        var weighted = KMeans1D.Fit(values, 4, magnitudeWeighted: true);

        Assert.True(weighted.Max() > plain.Max() && weighted.Min() < plain.Min());
        Assert.True(Error(values, plain) <= Error(values, weighted));
    }

    [Fact]
    public void Non_finite_values_are_refused()
    {
        Assert.Throws<ArgumentException>(() => KMeans1D.Fit([1f, float.NaN], 2));
        Assert.Empty(KMeans1D.Fit([], 4));
    }

    private static float[] QuantileLloyd(float[] values, int k, int iterations)
    {
        var sorted = values.Order().ToArray();
        var centroids = Enumerable.Range(0, k).Select(c => (double)sorted[(int)((c + 0.5) * sorted.Length / k)]).ToArray();
        for (var iteration = 0; iteration < iterations; iteration++)
        {
            var sums = new double[k];
            var counts = new int[k];
            var asFloats = centroids.Select(c => (float)c).ToArray();
            foreach (var v in sorted)
            {
                var c = PalettizedValues.Nearest(asFloats, v);
                sums[c] += v;
                counts[c]++;
            }
            for (var c = 0; c < k; c++) if (counts[c] > 0) centroids[c] = sums[c] / counts[c];
            Array.Sort(centroids);
        }
        return centroids.Select(c => (float)c).ToArray();
    }
}
