using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Static;

namespace ModelCompression.Core.Passes;

/// <summary>
/// What a pass may need besides the model: the calibration samples, and the activation statistics
/// calibrated on them. Statistics are collected once per distinct model (all candidates calibrate the
/// same lossless model), with histograms, so one collection serves every calibration method.
/// </summary>
public sealed class PassContext(SampleSet? calibration)
{
    /// <summary>At most this many calibration samples, spread over the file: more changes the ranges very little.</summary>
    public const int MaxCalibrationSamples = 1024;

    private readonly Dictionary<string, CalibrationResult> _calibrations = new(StringComparer.Ordinal);

    public static PassContext None { get; } = new(null);

    public SampleSet? Calibration => calibration;

    /// <summary>
    /// The float model before any lossy step (the lossless model every candidate starts from), with the value names
    /// the candidates keep: what bias correction compares layer outputs with. Null when not set.
    /// </summary>
    public ModelProto? Reference { get; init; }

    /// <summary>Each layer's input moments on the calibration data, for data-aware rounding; null when not collected.</summary>
    public LayerStatistics.ILayerStatistics? LayerStatistics { get; init; }

    /// <summary>Layer outputs bias correction measured on the calibration samples, shared by the candidates of a search.</summary>
    internal BiasCorrection.LayerOutputCache MeasuredLayerOutputs { get; } = new();

    /// <summary>Where a plan's distilled-weights step finds its weights.</summary>
    public Core.Distillation.TrainedWeightsSource TrainedWeights { get; init; } = Core.Distillation.TrainedWeightsSource.None;

    public CalibrationResult CalibrationFor(ModelProto model)
    {
        if (calibration is null)
            throw new InvalidOperationException("Static int8 quantization needs calibration samples.");
        var key = OnnxModelFile.HashOf(model);
        if (!_calibrations.TryGetValue(key, out var result))
        {
            var samples = calibration.Spread(Math.Min(MaxCalibrationSamples, calibration.Count));
            var entropy = new StaticQuantizationOptions { Activations = new CalibrationSettings(CalibrationMethod.Entropy) };
            _calibrations[key] = result = Int8StaticQuantization.Calibrate(model, "the model being calibrated", samples, entropy);
        }
        return result;
    }
}
