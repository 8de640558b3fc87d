using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Testing;

/// <summary>
/// Layer inputs with correlated features, as real activations have them: x = (z·M) ∘ c with z normal with a decaying
/// (power-law) spectrum, variance 1/(1 + i) (from a seed), M a random mixing and c per-feature scales spread over one
/// decade (both from a mixing seed, so calibration and held-out rows drawn with different seeds share one distribution). Also the second moment H = E[x xᵀ]
/// of such rows, and the output error a weight approximation makes on them.
/// </summary>
public static class CorrelatedInputs
{
    /// <summary><paramref name="count"/> rows of <paramref name="dimension"/> features, row-major.</summary>
    public static float[] Rows(int count, int dimension, int seed, int mixingSeed = 1)
    {
        var (mixing, scales) = Mixing(dimension, mixingSeed);
        var random = new Random(seed);
        var rows = new float[count * dimension];
        var z = new double[dimension];
        for (var r = 0; r < count; r++)
        {
            for (var i = 0; i < dimension; i++) z[i] = Gaussian(random) / Math.Sqrt(1 + i);
            for (var j = 0; j < dimension; j++)
            {
                double sum = 0;
                for (var i = 0; i < dimension; i++) sum += z[i] * mixing[i * dimension + j];
                rows[r * dimension + j] = (float)(sum * scales[j]);
            }
        }
        return rows;
    }

    /// <summary>
    /// Images [count, channels, height, width] whose channels are mixed (as <see cref="Rows"/>) and whose pixels are
    /// spatially smooth (each the mean of a 3×3 neighbourhood of independent noise), so im2col patches are correlated too.
    /// </summary>
    public static NdArray Images(int count, int channels, int height, int width, int seed, int mixingSeed = 1)
    {
        var pixels = height * width;
        var noise = Rows(count * (height + 2) * (width + 2), channels, seed, mixingSeed); // [image, y, x, channel]
        var values = new float[count * channels * pixels];
        for (var n = 0; n < count; n++)
            for (var c = 0; c < channels; c++)
                for (var y = 0; y < height; y++)
                    for (var x = 0; x < width; x++)
                    {
                        double sum = 0;
                        for (var dy = 0; dy < 3; dy++)
                            for (var dx = 0; dx < 3; dx++)
                                sum += noise[((n * (height + 2) + y + dy) * (width + 2) + x + dx) * channels + c];
                        values[(n * channels + c) * pixels + y * width + x] = (float)(sum / 3);
                    }
        return NdArray.Create<float>([count, channels, height, width], values);
    }

    /// <summary>H = XᵀX / rows of row-major <paramref name="rows"/> (one matrix per entry: the groups of a grouped Conv).</summary>
    public static InputMoments Moments(IReadOnlyList<float[]> rows, int dimension)
    {
        var count = rows[0].Length / dimension;
        var matrix = new float[rows.Count * dimension * dimension];
        for (var g = 0; g < rows.Count; g++)
        {
            var h = new double[dimension * dimension];
            var x = rows[g];
            for (var r = 0; r < count; r++)
                for (var i = 0; i < dimension; i++)
                {
                    var xi = (double)x[r * dimension + i];
                    if (xi == 0) continue;
                    for (var j = 0; j < dimension; j++) h[i * dimension + j] += xi * x[r * dimension + j];
                }
            for (var i = 0; i < h.Length; i++) matrix[g * dimension * dimension + i] = (float)(h[i] / count);
        }
        return new InputMoments(dimension, rows.Count, count, matrix);
    }

    public static InputMoments Moments(float[] rows, int dimension) => Moments([rows], dimension);

    /// <summary>
    /// ‖(W − Ŵ)x‖ / ‖W x‖ summed over the rows x of <paramref name="inputs"/>: how much of the layer's output the
    /// approximation <paramref name="approximation"/> of <paramref name="weight"/> (both rows [outputs, k]) gets wrong.
    /// </summary>
    public static double RelativeOutputError(ReadOnlySpan<float> weight, ReadOnlySpan<float> approximation, ReadOnlySpan<float> inputs, int k)
    {
        var outputs = weight.Length / k;
        double error = 0, total = 0;
        for (var r = 0; r < inputs.Length / k; r++)
        {
            var x = inputs.Slice(r * k, k);
            for (var o = 0; o < outputs; o++)
            {
                double exact = 0, approximate = 0;
                for (var i = 0; i < k; i++)
                {
                    exact += (double)weight[o * k + i] * x[i];
                    approximate += (double)approximation[o * k + i] * x[i];
                }
                error += (exact - approximate) * (exact - approximate);
                total += exact * exact;
            }
        }
        return Math.Sqrt(error / total);
    }

    /// <summary>Standard normal floats (weights), the same for the same seed.</summary>
    public static float[] Gaussians(int count, int seed, double scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(Gaussian(random) * scale)).ToArray();
    }

    private static (double[] Mixing, double[] Scales) Mixing(int dimension, int seed)
    {
        var random = new Random(seed);
        var mixing = new double[dimension * dimension];
        for (var i = 0; i < mixing.Length; i++) mixing[i] = Gaussian(random) / Math.Sqrt(dimension);
        var scales = new double[dimension];
        for (var j = 0; j < dimension; j++) scales[j] = Math.Pow(10, random.NextDouble() - 0.5); // 0.3 to 3
        return (mixing, scales);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
