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
public sealed record QuantizationKnobs(Int8Form Int8, string Calibration = "minmax", int Int4BlockSize = 64)
{
    public static QuantizationKnobs Default { get; } = new(Int8Form.Weights);

    public override string ToString() => Int8 switch
    {
        Int8Form.Static => $"int8 static {Calibration}, int4 block {Int4BlockSize}",
        _ => $"int8 {Int8.ToString().ToLowerInvariant()}, int4 block {Int4BlockSize}",
    };
}
