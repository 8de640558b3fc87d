namespace ModelCompression.Core.Passes.Sparsity;

/// <summary>
/// The masked form of a pruned weight: a 1-bit mask (which elements are non-zero, packed 8 per byte) and the non-zero
/// values in row-major order, each stored in b bits: b = 32 (float32), 16 (float16) or 1–8 (codes into k-means
/// palettes). Bits per weight: 1 + (1 − s)·b at sparsity s, against b for the same values stored densely (ONNX has no
/// entropy coding: a zero in a dense tensor costs what any value costs). So the mask pays only above s = 1/b: at 3 % for
/// float32, 6.25 % for float16, 25 % for 4-bit codes, 50 % for 2-bit codes; plus about 1.6 KB of nodes and small constants per tensor.
/// </summary>
/// <remarks>
/// ONNX's own sparse_initializer stores each non-zero with its index: int64 by the spec (the onnx checker refuses other
/// types), 32 + 64 = 96 bits per non-zero, so it beats dense float32 only above s = 2/3 and is always larger than the
/// mask form (1 + (1 − s)·32 bits); it cannot hold float16 or codes either, since a sparse tensor's values have the
/// weight's own type. ONNX Runtime 1.31 densifies it at load (also with int32 or [nnz, 2] int16 indices, against the
/// spec). Measured on fashion-cnn's 3136×256 Gemm (PaletteBench, sparse-initializers): at 50/75/90 % sparsity the
/// model is 1,979,966 / 1,177,150 / 695,462 bytes with the mask form, 5,090,270 / 2,681,820 / 1,236,754 with int64
/// indices, 3,484,636 / 1,879,002 / 915,626 with int32 ones; same accuracy, same latency; int64/int32 sessions load in 2–3 ms
/// against 10–15 ms for the mask form (which ONNX Runtime folds); int16 coordinates 3–7 ms.
/// </remarks>
public static class SparseEncoding
{
    /// <summary>Value widths besides palette codes (1–8 bits).</summary>
    public const int Float32Bits = 32, Float16Bits = 16;

    /// <summary>Stored bits per weight of the masked form (the mask, plus the non-zeros' values).</summary>
    public static double MaskedBitsPerWeight(double sparsity, int valueBits) => 1 + (1 - sparsity) * valueBits;

    /// <summary>Stored bits per weight of ONNX's sparse_initializer with linear indices of <paramref name="indexBits"/> bits (float32 values).</summary>
    public static double SparseInitializerBitsPerWeight(double sparsity, int indexBits = 64) => (1 - sparsity) * (Float32Bits + indexBits);

    /// <summary>The sparsity above which the masked form is smaller than the same values stored densely (1/b), ignoring fixed costs.</summary>
    public static double BreakEvenSparsity(int valueBits) => 1.0 / valueBits;

    /// <summary>Whether <paramref name="valueBits"/> is a width the masked form can store: 32, 16, or 1–8 (palette codes).</summary>
    public static bool IsValueWidth(int valueBits) => valueBits is Float32Bits or Float16Bits or >= 1 and <= 8;
}
