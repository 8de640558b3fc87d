namespace ModelCompression.Core.Calibration;

/// <summary>How an activation's quantization range is chosen from what calibration observed.</summary>
public enum CalibrationMethod
{
    /// <summary>The observed minimum and maximum: nothing clips, rare outliers stretch the grid.</summary>
    MinMax,
    /// <summary>A percentile of |x| (symmetric) or of each tail (asymmetric): clips the rarest values.</summary>
    Percentile,
    /// <summary>The threshold whose clipped, quantized histogram of |x| diverges least (KL) from the observed one (TensorRT's method).</summary>
    Entropy,
}

/// <summary>How activation ranges are chosen and encoded.</summary>
/// <param name="Method">Which range the statistics give.</param>
/// <param name="Percentile">For <see cref="CalibrationMethod.Percentile"/>: the share of values kept inside the range, in percent (e.g. 99.99).</param>
/// <param name="Symmetric">
/// True: int8 with zero point 0, range [−T, T]. False: uint8 with a zero point, range [min, max] (with 0 inside), which
/// uses the whole grid for all-positive activations (after Relu) where symmetric wastes half of it.
/// </param>
public sealed record CalibrationSettings(CalibrationMethod Method = CalibrationMethod.MinMax, double Percentile = 99.99, bool Symmetric = false)
{
    public static CalibrationSettings Default { get; } = new();

    /// <summary>Whether the method needs histograms (a second pass over the samples).</summary>
    public bool NeedsHistograms => Method != CalibrationMethod.MinMax;

    public double Percentile { get; init; } = Percentile is > 50 and <= 100
        ? Percentile
        : throw new ArgumentOutOfRangeException(nameof(Percentile), Percentile, "The percentile is the share of values kept, in (50, 100].");

    /// <summary>Stable text for plans and reports, e.g. "percentile-99.99-asymmetric".</summary>
    public override string ToString() =>
        $"{Method switch { CalibrationMethod.MinMax => "minmax", CalibrationMethod.Percentile => $"percentile-{Percentile.ToString(System.Globalization.CultureInfo.InvariantCulture)}", _ => "entropy" }}-{(Symmetric ? "symmetric" : "asymmetric")}";
}
