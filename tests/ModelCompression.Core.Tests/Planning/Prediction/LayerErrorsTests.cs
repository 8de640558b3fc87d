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
    public void Without_moments_the_error_is_the_weights_own_relative_error()
    {
        var (_, _, layer, _, _) = Setup();
        var approximation = layer.Rows.Select(w => w * 0.9f).ToArray();

        Assert.Equal(0.01, new OutputError(layer, moments: null).Relative(approximation), 6);
    }

    [Fact]
    public void Every_option_is_predicted_and_fewer_bits_err_more()
    {
        var (model, space, _, inputs, moments) = Setup();
        var statistics = new Statistics(new() { ["layer_a"] = moments });

        var errors = LayerErrors.Predict(model, space, statistics, QuantizationKnobs.Default);

        Assert.Equal(space.Layers.Sum(l => l.Settings.Count), errors.Count);
        double Of(LayerSetting s) => errors.Of("layer_a", s)!.Value;
        Assert.True(Of(new(WeightFormat.Int8)) < Of(new(WeightFormat.Int4)));
        Assert.True(Of(new(WeightFormat.Int4)) < Of(new(WeightFormat.Palette, 2)));
        // Data-aware rounding lowers the error it minimises.
        Assert.True(Of(new(WeightFormat.Palette, 3, Rounding: Rounding.Hessian)) < Of(new(WeightFormat.Palette, 3)));
        Assert.True(Of(new(WeightFormat.Int4, Rounding: Rounding.Hessian)) < Of(new(WeightFormat.Int4)));
    }

    private sealed class Statistics(Dictionary<string, InputMoments> moments) : ILayerStatistics
    {
        public InputMoments? For(string node) => moments.GetValueOrDefault(node);
    }
}
