using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Calibration;

public class CalibrationTests
{
    /// <summary>x [N, 64] → Identity → y → Relu → r: the calibrated values are exactly the data (y) and its positive part (r).</summary>
    private static ModelProto Model() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 64)
        .Node("Identity", ["x"], ["y"], "identity")
        .Node("Relu", ["y"], ["r"], "relu")
        .Output("r", DataType.Float, "N", 64)
        .Build();

    /// <summary>Cauchy values: most within a few units of 0, a few thousands of units out.</summary>
    private static float[] HeavyTailed(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)Math.Tan(Math.PI * (random.NextDouble() - 0.5))).ToArray();
    }

    private static SampleSet Samples(ModelProto model, float[] values) =>
        SampleSet.FromArrays("calibration.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([values.Length / 64, 64], values) }, model);

    private static CalibrationResult Collect(float[] values, bool histograms = true, EvaluationOptions? options = null)
    {
        var model = Model();
        return Calibrator.Collect(model, "model", ["x", "y", "r"], Samples(model, values), histograms, options);
    }

    [Fact]
    public void Minmax_is_the_exact_observed_range()
    {
        var values = HeavyTailed(64 * 100, 1);
        var result = Collect(values, histograms: false);

        Assert.Equal(new ActivationRange(values.Min(), values.Max()), result.Range("y", new CalibrationSettings(CalibrationMethod.MinMax)));
        Assert.Equal(new ActivationRange(values.Min(), values.Max()), result.Range("x", new CalibrationSettings(CalibrationMethod.MinMax)));
        Assert.Equal(new ActivationRange(0, values.Max()), result.Range("r", new CalibrationSettings(CalibrationMethod.MinMax)));
        Assert.Equal(values.Length, result.Statistics("y").Count);
        Assert.False(result.HasHistograms);
        Assert.Throws<InvalidOperationException>(() => result.Range("y", new CalibrationSettings(CalibrationMethod.Entropy)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void On_heavy_tailed_data_percentile_and_entropy_clip_what_minmax_keeps(bool symmetric)
    {
        var result = Collect(HeavyTailed(64 * 200, 2));
        ActivationRange Range(CalibrationMethod method) => result.Range("y", new CalibrationSettings(method, 99.9, symmetric));

        var minMax = Range(CalibrationMethod.MinMax);
        var percentile = Range(CalibrationMethod.Percentile);
        var entropy = Range(CalibrationMethod.Entropy);

        Assert.True(percentile.Max <= minMax.Max && percentile.Min >= minMax.Min, $"percentile {percentile} within minmax {minMax}");
        Assert.True(entropy.Max <= minMax.Max && entropy.Min >= minMax.Min, $"entropy {entropy} within minmax {minMax}");
        // Heavy tails: the outliers are hundreds of times the typical value, so clipping them narrows the range a lot.
        Assert.True(percentile.Max - percentile.Min < (minMax.Max - minMax.Min) / 4, $"percentile {percentile} vs minmax {minMax}");
        Assert.True(entropy.Max - entropy.Min < (minMax.Max - minMax.Min) / 4, $"entropy {entropy} vs minmax {minMax}");
        if (symmetric) Assert.Equal(-percentile.Max, percentile.Min);
    }

    [Fact]
    public void A_percentile_keeps_that_share_of_the_values_to_within_one_bin()
    {
        // |x| uniform over 1..10000 (both signs): 99% of the magnitudes are at most 9900.
        var values = Enumerable.Range(1, 10000).SelectMany(v => new[] { (float)v, -(float)v }).Take(64 * 312).ToArray();
        var result = Collect(values);

        var range = result.Range("y", new CalibrationSettings(CalibrationMethod.Percentile, 99, Symmetric: true));

        var expected = values.Select(Math.Abs).Order().ElementAt((int)Math.Ceiling(0.99 * values.Length) - 1);
        var bin = result.Statistics("y").Bound / result.Statistics("y").BinsPerSide;
        Assert.InRange(range.Max, expected, expected + bin);
    }

    [Fact]
    public void Entropy_keeps_the_range_of_outlier_free_data_and_clips_a_lone_outlier_as_far_as_its_bins_allow()
    {
        var random = new Random(3);
        var uniform = Enumerable.Range(0, 64 * 100).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var kept = Collect(uniform).Range("y", new CalibrationSettings(CalibrationMethod.Entropy, Symmetric: true));
        Assert.InRange(kept.Max, 0.9f, 1f);

        // The smallest threshold tried is 128 of the 2048 bins over [0, 1000]: 1/16 of the outlier, 62.5.
        uniform[17] = 1000;
        var clipped = Collect(uniform).Range("y", new CalibrationSettings(CalibrationMethod.Entropy, Symmetric: true));
        Assert.InRange(clipped.Max, 1f, 1000f / 16 + 1000f / 2048);
    }

    [Fact]
    public void Entropy_is_not_pulled_down_by_the_zeros_a_relu_makes()
    {
        // Half exact zeros (as after Relu), half uniform in (0, 1]: nothing to clip.
        var random = new Random(6);
        var values = Enumerable.Range(0, 64 * 100).Select(i => i % 2 == 0 ? 0f : (float)(1 - random.NextDouble())).ToArray();
        var result = Collect(values);

        Assert.InRange(result.Range("y", new CalibrationSettings(CalibrationMethod.Entropy)).Max, 0.9f, 1f);
        Assert.InRange(result.Range("y", new CalibrationSettings(CalibrationMethod.Entropy, Symmetric: true)).Max, 0.9f, 1f);
    }

    [Fact]
    public void Asymmetric_entropy_gives_each_tail_its_own_threshold()
    {
        // An image normalised to [-0.8, 2]: most pixels are background at -0.8, the rest spread up to 2.
        var random = new Random(7);
        var values = Enumerable.Range(0, 64 * 100).Select(i => i % 3 != 0 ? -0.8f : (float)(-0.8 + 2.8 * random.NextDouble())).ToArray();
        var result = Collect(values);

        var asymmetric = result.Range("y", new CalibrationSettings(CalibrationMethod.Entropy));
        Assert.Equal(-0.8f, asymmetric.Min);
        Assert.InRange(asymmetric.Max, 1.8f, 2f); // the bright side is kept
        // On |x|, one threshold for both signs sits at the background's spike and clips the bright side.
        Assert.InRange(result.Range("y", new CalibrationSettings(CalibrationMethod.Entropy, Symmetric: true)).Max, 0.8f, 1.2f);
    }

    [Fact]
    public void Asymmetric_grids_give_all_positive_activations_the_whole_uint8_range()
    {
        var result = Collect(HeavyTailed(64 * 50, 4));
        var max = result.Statistics("r").Max;

        foreach (var method in Enum.GetValues<CalibrationMethod>())
        {
            var asymmetric = result.Parameters("r", new CalibrationSettings(method));
            Assert.Equal(DataType.Uint8, asymmetric.ElementType);
            Assert.Equal(0, asymmetric.ZeroPoint); // a Relu output: the grid starts at 0
            Assert.Equal(0f, result.Range("r", new CalibrationSettings(method)).Min);
        }
        // With the same range, the uint8 grid is twice as fine: a symmetric int8 grid spends half its codes on negatives that never come.
        var minMaxAsymmetric = result.Parameters("r", new CalibrationSettings());
        var minMaxSymmetric = result.Parameters("r", new CalibrationSettings(Symmetric: true));
        Assert.Equal(max / 255, minMaxAsymmetric.Scale, 1e-7f * max);
        Assert.Equal(max / 127, minMaxSymmetric.Scale, 1e-7f * max);
    }

    [Fact]
    public void The_same_samples_give_the_same_statistics_bit_for_bit_however_they_are_batched()
    {
        var values = HeavyTailed(64 * 300, 5);
        var batched = Collect(values);
        var again = Collect(values);
        // 300 samples of 64 floats × 3 tensors ≈ 230 KB: a 2 KB cap runs them one sample at a time.
        var single = Collect(values, options: new EvaluationOptions { MaxBatchOutputBytes = 2048 });

        foreach (var other in new[] { again, single })
            foreach (var tensor in new[] { "x", "y", "r" })
            {
                var a = batched.Statistics(tensor);
                var b = other.Statistics(tensor);
                Assert.Equal((a.Min, a.Max, a.Count), (b.Min, b.Max, b.Count));
                Assert.True(a.Histogram.SequenceEqual(b.Histogram));
                foreach (var method in Enum.GetValues<CalibrationMethod>())
                    Assert.Equal(batched.Range(tensor, new CalibrationSettings(method)), other.Range(tensor, new CalibrationSettings(method)));
            }
    }

    /// <summary>Finite data can still make activations non-finite (here 0/0, 1/0 and -1/0 in y = x / d).</summary>
    [Fact]
    public void Non_finite_values_are_not_counted()
    {
        var values = Enumerable.Range(0, 128).Select(i => (float)(i - 64)).ToArray();
        (values[3], values[4], values[5]) = (0, 1, -1);
        var divisors = Enumerable.Repeat(1f, 64).ToArray();
        divisors[3] = divisors[4] = divisors[5] = 0;
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 64)
            .Initializer("d", divisors, 64)
            .Node("Div", ["x", "d"], ["y"], "divide")
            .Output("y", DataType.Float, "N", 64)
            .Build();

        var statistics = Calibrator.Collect(model, "model", ["y"], Samples(model, values), histograms: true).Statistics("y");

        // Three positions of each of the two samples divide by zero.
        Assert.Equal(122, statistics.Count);
        Assert.Equal(122, statistics.Histogram.ToArray().Sum());
        Assert.Equal((-64f, 63f), (statistics.Min, statistics.Max));
    }

    [Fact]
    public void Tensors_that_are_not_float_activations_of_the_main_graph_are_refused()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 4)
            .Node("Shape", ["x"], ["shape"])
            .Node("Identity", ["x"], ["y"])
            .Output("y", DataType.Float, "N", 4)
            .Output("shape", DataType.Int64, 2)
            .Build();
        var samples = SampleSet.FromArrays("c.npz", new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([2, 4], 1) }, model);

        Assert.Contains("int64", Assert.Throws<ArgumentException>(() => Calibrator.Collect(model, "m", ["shape"], samples, false)).Message);
        Assert.Contains("not an input or a node output", Assert.Throws<ArgumentException>(() => Calibrator.Collect(model, "m", ["nowhere"], samples, false)).Message);
    }

    [Theory]
    [InlineData(-3f, 5f, false, 8f / 255, 96)]
    [InlineData(2f, 5f, false, 5f / 255, 0)]     // zero is always on the grid
    [InlineData(-4f, -1f, false, 4f / 255, 255)]
    [InlineData(-3f, 5f, true, 5f / 127, 0)]
    [InlineData(0f, 0f, false, 1f, 0)]           // an all-zero tensor: any scale reproduces it
    [InlineData(0f, 0f, true, 1f, 0)]
    public void Ranges_become_grids_that_contain_zero(float min, float max, bool symmetric, float scale, int zeroPoint)
    {
        var grid = new ActivationRange(min, max).ToParameters(symmetric);
        Assert.Equal(scale, grid.Scale, 1e-6f);
        Assert.Equal(zeroPoint, grid.ZeroPoint);
        Assert.Equal(0f, grid.RoundTrip(0f));
        Assert.Equal(symmetric ? DataType.Int8 : DataType.Uint8, grid.ElementType);
    }

    [Fact]
    public void A_percentile_outside_50_to_100_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationSettings(CalibrationMethod.Percentile, 30));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationSettings(CalibrationMethod.Percentile, 100.5));
        Assert.Equal("percentile-99.99-symmetric", new CalibrationSettings(CalibrationMethod.Percentile, 99.99, true).ToString());
    }
}
