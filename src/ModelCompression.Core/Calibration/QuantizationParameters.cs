namespace ModelCompression.Core.Calibration;

/// <summary>
/// A per-tensor linear quantization grid: q = clamp(round(x / Scale) + ZeroPoint, qmin, qmax) of
/// <see cref="ElementType"/> (int8 or uint8); x ≈ (q − ZeroPoint) · Scale.
/// </summary>
public readonly record struct QuantizationParameters(float Scale, int ZeroPoint, DataType ElementType)
{
    public int QMin => ElementType == DataType.Uint8 ? 0 : -128;

    public int QMax => ElementType == DataType.Uint8 ? 255 : 127;

    /// <summary>The smallest value the grid represents.</summary>
    public float Low => (QMin - ZeroPoint) * Scale;

    /// <summary>The largest value the grid represents.</summary>
    public float High => (QMax - ZeroPoint) * Scale;

    /// <summary>x quantized and dequantized as ONNX QuantizeLinear/DequantizeLinear do (round half to even, saturate).</summary>
    public float RoundTrip(float x)
    {
        var q = Math.Clamp(MathF.Round(x / Scale, MidpointRounding.ToEven) + ZeroPoint, QMin, QMax);
        return (q - ZeroPoint) * Scale;
    }
}
