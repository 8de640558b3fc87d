namespace ModelCompression.Core.Planning;

/// <summary>How int8 layers are quantized.</summary>
public enum Int8Form
{
    /// <summary>Weights only (Cast·Mul, folded at load): float arithmetic, never slower.</summary>
    Weights,
    /// <summary>Static QDQ: weights and activations, with activation ranges calibrated on CalibrationData.</summary>
    Static,
    /// <summary>Dynamic: activations quantized at run time (MatMul/Gemm), weights int8.</summary>
    Dynamic,
}

/// <summary>The settings shared by every layer of a candidate: the knobs of the final grid search.</summary>
/// <param name="Calibration">Static int8 only: minmax, percentile or entropy.</param>
/// <param name="Int4BlockSize">int4 only: weights per scale along K.</param>
/// <param name="Int4AccuracyLevel">int4 only: ONNX Runtime's MatMulNBits accuracy_level (4 computes in int8: faster on large matrices).</param>
/// <param name="BiasCorrection">Correct the bias of every lossy layer on calibration data (factored layers always are).</param>
/// <param name="AnalyticCorrection">Bias correction from the layer statistics' input means (<see cref="Passes.BiasCorrection.AnalyticBiasCorrection"/>)
/// instead of measured on calibration data: the planner's choice for models whose empirical correction would cost more
/// than it may spend on one (<see cref="SearchLimits.MaxEmpiricalCorrectionWork"/>).</param>
/// <param name="FoldFactors">Keep low-rank factors in the file but multiply them back into one layer when ONNX Runtime
/// loads the model: the same accuracy, and no second kernel call (on digits-mlp two thin layers run 1.13× slower).</param>
/// <param name="RefitPalettes">Refit the entries of Hessian-weighted palettes to their codes
/// (<see cref="Passes.DataAware.HessianWeightedKMeans"/>). Off for distilled students, whose weights were trained
/// against the training's own palettes, not to be rounded for the original's layer inputs.</param>
public sealed record QuantizationKnobs(Int8Form Int8, string Calibration = "minmax", int Int4BlockSize = 64, int Int4AccuracyLevel = 0,
    bool BiasCorrection = false, bool FoldFactors = false, bool AnalyticCorrection = false, bool RefitPalettes = true)
{
    /// <summary>Weight-only int8 (never slower) and int4 blocks of 64 (6.7× on fashion-cnn at no accuracy cost, measured).</summary>
    public static QuantizationKnobs Default { get; } = new(Int8Form.Weights);

    public string Int8Text => Int8 switch
    {
        Int8Form.Static => $"static {Calibration}",
        _ => Int8.ToString().ToLowerInvariant(),
    };

    public string Int4Text => $"block {Int4BlockSize}" + (Int4AccuracyLevel == 0 ? "" : $", accuracy level {Int4AccuracyLevel}");
}
