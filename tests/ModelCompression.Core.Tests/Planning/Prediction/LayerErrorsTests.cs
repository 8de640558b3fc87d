using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Prediction;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Planning.Prediction;

/// <summary>Predicted output errors against the errors measured on the inputs the moments came from.</summary>
public sealed class LayerErrorsTests
{
    private const int Features = 48;

    private static (ModelProto Model, CompressionSpace Space, LayerWeight Layer, float[] Inputs, InputMoments Moments) Setup()
    {
        var model = TestModels.Mlp(Features, 64, 10, seed: 3);
        var space = CompressionSpace.Find(model, Technique.All);
        var layer = LayerWeight.Of(model, new HashSet<string>(["layer_a"]))["layer_a"];
        var inputs = CorrelatedInputs.Rows(2000, Features, seed: 5);
        return (model, space, layer, inputs, CorrelatedInputs.Moments(inputs, Features));
    }

    [Fact]
    public void The_predicted_error_is_the_output_error_on_the_inputs_of_the_moments()
    {
        var (_, _, layer, inputs, moments) = Setup();
        var setting = new LayerSetting(WeightFormat.Palette, 3);
        var approximation = SettingApproximation.Approximate(layer, setting, QuantizationKnobs.Default, new(), hessians: null);

        var predicted = new OutputError(layer, moments).Relative(approximation);

        // CorrelatedInputs gives √(Σ‖(W − Ŵ)x‖² / Σ‖Wx‖²) over the rows, the weight as [N, K] rows like LayerWeight.
        var measured = CorrelatedInputs.RelativeOutputError(layer.Rows, approximation, inputs, Features);
        Assert.Equal(measured * measured, predicted, 1e-4 * predicted);
        Assert.True(predicted > 0);
    }

    [Fact]
    public void A_grouped_layer_with_pruned_rows_spanning_several_cached_blocks_gets_the_direct_quadratic_form()
    {
        const int k = 1024, n = 96, groups = 2; // 1,024 inputs: 32 rows a block, so each group's 48 rows span two
        var moments = CorrelatedInputs.Moments([CorrelatedInputs.Rows(300, k, seed: 1), CorrelatedInputs.Rows(300, k, seed: 2, mixingSeed: 3)], k);
        var weight = CorrelatedInputs.Gaussians(n * k, seed: 4);
        var layer = new LayerWeight("conv", "Conv", weight, n, k, groups, [n, k, 1, 1], ChannelAxis: 0);
        var pruned = weight.Select((w, i) => (i / k % 5) switch { 0 => 0f, 1 => w, _ => w * 0.8f }).ToArray(); // pruned, unchanged, scaled rows

        double Direct(float[] rows)
        {
            double sum = 0;
            for (var r = 0; r < n; r++)
            {
                var h = moments.Of(r / (n / groups));
                for (var i = 0; i < k; i++)
                    for (var j = 0; j < k; j++) sum += (double)rows[r * k + i] * h[i * k + j] * rows[r * k + j];
            }
            return sum;
        }

        var delta = pruned.Zip(weight, (p, w) => p - w).ToArray();
        var expected = Direct(delta) / Direct(weight);
        Assert.Equal(expected, new OutputError(layer, moments).Relative(pruned), 1e-5 * expected);
    }

    [Fact]
    public void Without_moments_the_error_is_the_weights_own_relative_error()
    {
        var (_, _, layer, _, _) = Setup();
        var approximation = layer.Rows.Select(w => w * 0.9f).ToArray();

        Assert.Equal(0.01, new OutputError(layer, moments: null).Relative(approximation), 6);
    }

    [Fact]
    public void Every_option_is_predicted_reported_done_and_fewer_bits_err_more()
    {
        var (model, space, _, inputs, moments) = Setup();
        var statistics = new Statistics(new() { ["layer_a"] = moments });
        var done = 0;

        var errors = LayerErrors.Predict(model, space, statistics, QuantizationKnobs.Default, options => Interlocked.Add(ref done, options));

        Assert.Equal(space.Layers.Sum(l => l.Settings.Count), errors.Count);
        Assert.Equal(errors.Count, done);
        double Of(LayerSetting s) => errors.Of("layer_a", s)!.Value;
        Assert.True(Of(new(WeightFormat.Int8)) < Of(new(WeightFormat.Int4)));
        Assert.True(Of(new(WeightFormat.Int4)) < Of(new(WeightFormat.Palette, 2)));
        // Data-aware rounding lowers the error it minimises.
        Assert.True(Of(new(WeightFormat.Palette, 3, Rounding: Rounding.Hessian)) < Of(new(WeightFormat.Palette, 3)));
        Assert.True(Of(new(WeightFormat.Int4, Rounding: Rounding.Hessian)) < Of(new(WeightFormat.Int4)));
    }

    [Fact]
    public void Options_predicted_side_by_side_each_get_the_error_they_get_alone()
    {
        var (model, space, layer, _, moments) = Setup();
        var statistics = new Statistics(new() { ["layer_a"] = moments });
        var hessians = new[] { InputHessian.Of(moments, 0) };
        var unfactored = space.Layers.Single(l => l.Node == "layer_a").Settings.Where(s => s.Rank == 0).ToList();

        var errors = LayerErrors.Predict(model, space, statistics, QuantizationKnobs.Default);

        Assert.True(unfactored.Count >= 10, $"{unfactored.Count} options");
        foreach (var setting in unfactored)
        {
            var alone = new OutputError(layer, moments).Relative(SettingApproximation.Approximate(layer, setting, QuantizationKnobs.Default, new(), hessians));
            Assert.True(Math.Abs(errors.Of("layer_a", setting)!.Value - alone) <= 5e-4 * alone, $"{setting}: {errors.Of("layer_a", setting)} predicted, {alone} alone");
        }
    }

    private sealed class Statistics(Dictionary<string, InputMoments> moments) : ILayerStatistics
    {
        public InputMoments? For(string node) => moments.GetValueOrDefault(node);
    }
}
