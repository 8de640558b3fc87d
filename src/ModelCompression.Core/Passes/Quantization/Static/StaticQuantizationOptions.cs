using ModelCompression.Core.Calibration;

namespace ModelCompression.Core.Passes.Quantization.Static;

/// <summary>Settings of <see cref="Int8StaticQuantization"/>.</summary>
public sealed record StaticQuantizationOptions
{
    public static StaticQuantizationOptions Default { get; } = new();

    /// <summary>How activation ranges are chosen (method, percentile) and encoded (symmetric int8 or asymmetric uint8).</summary>
    public CalibrationSettings Activations { get; init; } = CalibrationSettings.Default;

    /// <summary>
    /// Also quantize the ops between quantized layers that ONNX Runtime runs on integers (MaxPool,
    /// Flatten, Reshape, Transpose, Squeeze, Unsqueeze with the input's grid; Add, Concat,
    /// GlobalAveragePool, AveragePool as QLinear ops), so integer tensors flow from layer to layer
    /// instead of being dequantized and quantized again around each. Measured on fashion-cnn (see
    /// <see cref="Int8StaticQuantization"/>): 0.42× the fp32 latency with them against 0.47× without, with Entropy
    /// ranges; with MinMax both give 0.42–0.43×, because a MaxPool's calibrated input and output ranges then coincide
    /// and ORT drops the Q/DQ pair around it anyway. Here the MaxPool output always takes its input's grid.
    /// </summary>
    public bool IntegerIntermediateOps { get; init; } = true;

    /// <summary>Stable text for plans and reports, e.g. "minmax-asymmetric" or "entropy-symmetric-layers-only".</summary>
    public override string ToString() => IntegerIntermediateOps ? Activations.ToString() : $"{Activations}-layers-only";
}
