namespace ModelCompression.Core.Calibration;

/// <summary>The range of an activation tensor that its quantization grid covers.</summary>
public readonly record struct ActivationRange(float Min, float Max)
{
    // Below this magnitude a tensor counts as all zeros: any scale reproduces it, and a tiny scale
    // would only blow up the int32 biases computed from it.
    private const float Negligible = 1e-12f;

    /// <summary>
    /// The grid for this range. Symmetric: int8, zero point 0, scale = max(|Min|, |Max|) / 127, so
    /// ±T are both representable. Asymmetric: uint8 over [min(Min, 0), max(Max, 0)] (zero is always
    /// exactly representable: zero padding and Relu outputs must stay exact), zero point rounded to the grid.
    /// </summary>
    public QuantizationParameters ToParameters(bool symmetric)
    {
        if (symmetric)
        {
            var bound = Math.Max(Math.Abs(Min), Math.Abs(Max));
            return new QuantizationParameters(bound > Negligible ? bound / 127f : 1f, 0, DataType.Int8);
        }
        var low = Math.Min(Min, 0f);
        var high = Math.Max(Max, 0f);
        if (high - low <= Negligible) return new QuantizationParameters(1f, 0, DataType.Uint8);
        var scale = (high - low) / 255f;
        var zeroPoint = (int)Math.Clamp(MathF.Round(-low / scale, MidpointRounding.ToEven), 0, 255);
        return new QuantizationParameters(scale, zeroPoint, DataType.Uint8);
    }
}
