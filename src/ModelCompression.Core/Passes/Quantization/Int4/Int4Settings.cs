namespace ModelCompression.Core.Passes.Quantization.Int4;

/// <summary>How <see cref="Int4WeightQuantization"/> quantizes and how ONNX Runtime computes with the result.</summary>
/// <param name="BlockSize">Consecutive weights along K sharing one scale: 16, 32, 64 or 128 (any power of two ≥ 16 works).
/// Smaller blocks are more accurate and cost more scales: 4.5 bits per weight at 64, 5 at 32, 6 at 16 (symmetric).</param>
/// <param name="Symmetric">True: zero point 8 for every block. False: a 4-bit zero point per block (more accurate for
/// lopsided blocks, 4 bits more per block).</param>
/// <param name="AccuracyLevel">MatMulNBits' <c>accuracy_level</c>: 0 computes in float (the weights are dequantized
/// block by block); 4 quantizes the activations to int8 per block too and uses integer dot products (faster on large
/// matrices, a little less accurate). Levels 1–3 compute like 0 on x64 CPUs.</param>
public sealed record Int4Settings(int BlockSize = 32, bool Symmetric = true, int AccuracyLevel = 0)
{
    public static Int4Settings Default { get; } = new();

    public const int Bits = 4;

    /// <summary>Throws when a value is outside what ONNX Runtime accepts.</summary>
    public Int4Settings Validated()
    {
        if (BlockSize < 16 || (BlockSize & (BlockSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(BlockSize), BlockSize, "The int4 block size must be a power of two of at least 16 (16, 32, 64, 128...).");
        if (AccuracyLevel is < 0 or > 4)
            throw new ArgumentOutOfRangeException(nameof(AccuracyLevel), AccuracyLevel, "accuracy_level is 0 to 4.");
        return this;
    }

    /// <summary>Stored bits per weight, scales and zero points included (the padding of a last partial block aside).</summary>
    public double BitsPerWeight => Bits + 32.0 / BlockSize + (Symmetric ? 0 : 4.0 / BlockSize);
}
