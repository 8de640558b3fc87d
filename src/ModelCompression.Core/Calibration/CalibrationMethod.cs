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
/// uses the whole grid for all-positive activations (after Relu) where symmetric wastes half of it, and lets ORT fold
/// a Relu into the grid. Asymmetric is also much faster: ONNX Runtime 1.31.1's int8 × int8 kernels are slow on x86
/// (measured 2.35× the fp32 latency on fashion-cnn and 5.59× on digits-mlp, against 0.42× and 1.64–1.81× for
/// uint8 × int8; <c>dotnet run -c Release --project tests/ModelCompression.QuantizationBench -- table</c>).
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
