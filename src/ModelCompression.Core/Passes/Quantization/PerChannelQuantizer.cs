namespace ModelCompression.Core.Passes.Quantization;

/// <summary>
/// Symmetric per-channel linear quantization of a weight tensor: each slice along the channel
/// axis gets its own scale = max|w| / qmax, and codes round(w / scale) in [-qmax, qmax].
/// Symmetric (zero point 0) because weights are centred on zero, and because a zero point of 0
/// keeps the integer matmul kernels on their fast path.
/// </summary>
public static class PerChannelQuantizer
{
    /// <param name="weights">Row-major weights of shape <paramref name="shape"/>.</param>
    /// <param name="axis">The channel axis (e.g. 0 for Conv's output channels).</param>
    /// <param name="qmax">127 for int8, 7 for int4.</param>
    public static (sbyte[] Codes, float[] Scales) Quantize(ReadOnlySpan<float> weights, ReadOnlySpan<long> shape, int axis, int qmax = 127)
    {
        var channels = (int)shape[axis];
        long inner = 1;
        for (var i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        var scales = new float[channels];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            scales[c] = Math.Max(scales[c], Math.Abs(weights[i]));
        }
        for (var c = 0; c < channels; c++)
            scales[c] = scales[c] > 0 ? scales[c] / qmax : 1f; // an all-zero channel: any scale reproduces it
        var codes = new sbyte[weights.Length];
        for (var i = 0; i < weights.Length; i++)
        {
            var c = (int)(i / inner % channels);
            codes[i] = (sbyte)Math.Clamp(MathF.Round(weights[i] / scales[c], MidpointRounding.ToEven), -qmax, qmax);
        }
        return (codes, scales);
    }
}
