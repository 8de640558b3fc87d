using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Prediction;

namespace ModelCompression.Core.Tests.Planning;

public sealed class DropPredictorTests
{
    private static readonly LayerSetting Int8 = new(WeightFormat.Int8);
    private static readonly LayerSetting Int4 = new(WeightFormat.Int4);
    private static readonly LayerSetting TwoBits = new(WeightFormat.Palette, 2);

    private static LayerErrors Errors() => new(new Dictionary<(string, LayerSetting), double>
    {
        [("a", Int8)] = 0.001, [("a", Int4)] = 0.02, [("a", TwoBits)] = 0.3,
        [("b", Int8)] = 0.002, [("b", Int4)] = 0.04, [("b", TwoBits)] = 0.5,
        [("c", Int8)] = 0.004,
    });

    [Fact]
    public void A_layer_measured_alone_scales_the_errors_of_all_its_options()
    {
        var predictor = new DropPredictor(Errors(), resolution: 1.0 / 512);

        predictor.Calibrate("a", Int4, 0.01);

        Assert.Equal(0.0005, predictor.Predict("a", Int8)!.Value, 12);
        Assert.Equal(0.15, predictor.Predict("a", TwoBits)!.Value, 12);
    }

    [Fact]
    public void Layers_not_measured_take_the_median_coefficient()
    {
        var predictor = new DropPredictor(Errors(), resolution: 1.0 / 512);
        predictor.Calibrate("a", Int4, 0.02); // coefficient 1
        predictor.Calibrate("b", Int4, 0.12); // coefficient 3

        Assert.Equal(0.004 * 3, predictor.Predict("c", Int8)!.Value, 12);
    }

    [Fact]
    public void Nothing_seen_alone_counts_as_half_a_sample_not_as_free()
    {
        var predictor = new DropPredictor(Errors(), resolution: 0.01);

        predictor.Calibrate("a", Int4, 0);

        Assert.Equal(0.005 / 0.02 * 0.3, predictor.Predict("a", TwoBits)!.Value, 12);
    }

    [Fact]
    public void The_calibration_option_is_the_largest_error_still_below_the_visible_level()
    {
        var predictor = new DropPredictor(Errors(), resolution: 0.01);
        var layer = new LayerSpace("a", "Gemm", 1000, [Int8, Int4, TwoBits]);

        Assert.Equal(Int4, predictor.CalibrationOption(layer, visible: 0.1));
        Assert.Equal(Int8, predictor.CalibrationOption(layer, visible: 0.01));
        Assert.Equal(Int8, predictor.CalibrationOption(layer, visible: 0.0001));
    }

    [Fact]
    public void Settings_assumed_lossless_predict_no_drop_and_unknown_options_none()
    {
        var predictor = new DropPredictor(Errors(), resolution: 0.01);

        Assert.Equal(0, predictor.Predict("a", new LayerSetting(WeightFormat.Fp16)));
        Assert.Null(predictor.Predict("c", Int4));
    }
}
