namespace ModelCompression.Core.Passes.Quantization.Int4;

/// <summary>
/// A weight [N, K] quantized to 4 bits in blocks of <see cref="BlockSize"/> consecutive elements along K, laid out as
/// ONNX Runtime's MatMulNBits reads it: element k of row n dequantizes to (code − zero point) · scale of block k / BlockSize.
/// </summary>
/// <param name="Packed">uint8 [N, Blocks, BlockSize/2]: two codes per byte, the even element in the low nibble; the tail of the last block is padding.</param>
/// <param name="Scales">float [N, Blocks].</param>
/// <param name="ZeroPoints">uint8 [N, ⌈Blocks/2⌉], two per byte, the even block in the low nibble; null for the symmetric form (zero point 8).</param>
public sealed record BlockQuantizedWeight(int N, int K, int BlockSize, byte[] Packed, float[] Scales, byte[]? ZeroPoints)
{
    /// <summary>The zero point of every block when <see cref="ZeroPoints"/> is null.</summary>
    public const int SymmetricZeroPoint = 8;

    public int Blocks => (K + BlockSize - 1) / BlockSize;

    public int ZeroPointBytesPerRow => (Blocks + 1) / 2;

    public int Code(int n, int k)
    {
        var b = Packed[(n * Blocks + k / BlockSize) * (BlockSize / 2) + k % BlockSize / 2];
        return k % 2 == 0 ? b & 0xF : b >> 4;
    }

    public int ZeroPoint(int n, int block)
    {
        if (ZeroPoints is null) return SymmetricZeroPoint;
        var b = ZeroPoints[n * ZeroPointBytesPerRow + block / 2];
        return block % 2 == 0 ? b & 0xF : b >> 4;
    }

    /// <summary>The weights as the model computes with them, row-major [N, K].</summary>
    public float[] Dequantize()
    {
        var result = new float[N * K];
        for (var n = 0; n < N; n++)
            for (var k = 0; k < K; k++)
            {
                var block = k / BlockSize;
                result[n * K + k] = (Code(n, k) - ZeroPoint(n, block)) * Scales[n * Blocks + block];
            }
        return result;
    }
}

/// <summary>
/// Block-wise 4-bit quantization of a weight matrix, each block with its own scale (and zero point when
/// asymmetric). For each block a few scales are tried (the full range and ranges clipped by up to 25%, since
/// clipping a rare large weight makes the step finer for all the others) and the one with the smallest squared
/// error kept: no data is needed, and weights already on a 4-bit grid are reproduced exactly.
/// </summary>
public static class BlockQuantizer
{
    private static readonly float[] RangeFactors = [1f, 0.975f, 0.95f, 0.925f, 0.9f, 0.875f, 0.85f, 0.825f, 0.8f, 0.775f, 0.75f];
    private static readonly float[] AsymmetricRangeFactors = [1f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f];

    /// <param name="rows">Row-major [N, K]: row n holds the K weights of output feature n.</param>
    /// <param name="blockSize">A power of two ≥ 16 (ONNX Runtime's MatMulNBits requirement).</param>
    /// <param name="symmetric">Zero point fixed at 8 (codes −8..7 around zero); else a zero point per block.</param>
    public static BlockQuantizedWeight Quantize(ReadOnlySpan<float> rows, int n, int k, int blockSize, bool symmetric)
    {
        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size must be a power of two of at least 16.");
        if (rows.Length != (long)n * k) throw new ArgumentException($"Expected {n}×{k} weights, got {rows.Length}.", nameof(rows));

        var blocks = (k + blockSize - 1) / blockSize;
        var codes = new byte[rows.Length];
        var scales = new float[n * blocks];
        var zeroPoints = new int[n * blocks];
        for (var row = 0; row < n; row++)
            for (var block = 0; block < blocks; block++)
            {
                var start = block * blockSize;
                var values = rows.Slice(row * k + start, Math.Min(blockSize, k - start));
                var (scale, zeroPoint) = ChooseScale(values, symmetric);
                scales[row * blocks + block] = scale;
                zeroPoints[row * blocks + block] = zeroPoint;
                for (var i = 0; i < values.Length; i++) codes[row * k + start + i] = Code(values[i], scale, zeroPoint);
            }
        return Pack(n, k, blockSize, codes, scales, symmetric ? null : zeroPoints);
    }

    /// <summary>The scale (and zero point) of one block of weights: the clipped range with the smallest squared error.</summary>
    internal static (float Scale, int ZeroPoint) ChooseScale(ReadOnlySpan<float> values, bool symmetric) =>
        symmetric ? SymmetricScale(values) : AsymmetricScale(values);

    /// <summary>
    /// Packs codes (0..15, [n, k] row-major) in MatMulNBits' layout; the padding past K takes the block's zero point,
    /// so it dequantizes to 0.
    /// </summary>
    /// <param name="zeroPoints">One per block ([n, blocks]); null for the symmetric form.</param>
    internal static BlockQuantizedWeight Pack(int n, int k, int blockSize, ReadOnlySpan<byte> codes, float[] scales, int[]? zeroPoints)
    {
        var blocks = (k + blockSize - 1) / blockSize;
        var packed = new byte[n * blocks * blockSize / 2];
        var zeroPointBytes = (blocks + 1) / 2;
        var packedZeroPoints = zeroPoints is null ? null : new byte[n * zeroPointBytes];
        var block = new byte[blockSize];
        for (var row = 0; row < n; row++)
            for (var b = 0; b < blocks; b++)
            {
                var zeroPoint = zeroPoints?[row * blocks + b] ?? BlockQuantizedWeight.SymmetricZeroPoint;
                var start = b * blockSize;
                block.AsSpan().Fill((byte)zeroPoint);
                codes.Slice(row * k + start, Math.Min(blockSize, k - start)).CopyTo(block);
                var offset = (row * blocks + b) * blockSize / 2;
                for (var i = 0; i < blockSize; i += 2) packed[offset + i / 2] = (byte)(block[i] | block[i + 1] << 4);
                if (packedZeroPoints is not null)
                    packedZeroPoints[row * zeroPointBytes + b / 2] |= (byte)(b % 2 == 0 ? zeroPoint : zeroPoint << 4);
            }
        return new BlockQuantizedWeight(n, k, blockSize, packed, scales, packedZeroPoints);
    }

    internal static byte Code(float value, float scale, int zeroPoint) =>
        (byte)Math.Clamp(MathF.Round(value / scale, MidpointRounding.ToEven) + zeroPoint, 0, 15);

    // Codes −8..7 around zero point 8: the largest magnitude maps to −8 (so the step is max/8) or to +7 (max/7).
    private static (float Scale, int ZeroPoint) SymmetricScale(ReadOnlySpan<float> values)
    {
        var extreme = 0f;
        foreach (var v in values)
            if (Math.Abs(v) > Math.Abs(extreme)) extreme = v;
        if (extreme == 0) return (1f, BlockQuantizedWeight.SymmetricZeroPoint); // all zeros: any scale is exact
        var best = (Scale: 0f, Error: double.PositiveInfinity);
        foreach (var factor in RangeFactors)
            foreach (var scale in (ReadOnlySpan<float>)[-extreme * factor / 8, extreme * factor / 7])
            {
                var error = SquaredError(values, scale, BlockQuantizedWeight.SymmetricZeroPoint);
                if (error < best.Error) best = (scale, error);
            }
        return (best.Scale, BlockQuantizedWeight.SymmetricZeroPoint);
    }

    // Codes 0..15 spanning [min, max] (widened to include 0, so that 0 is exact), zero point rounded to a code;
    // each end clipped on its own, since an outlier usually sits on one side only.
    private static (float Scale, int ZeroPoint) AsymmetricScale(ReadOnlySpan<float> values)
    {
        float min = 0, max = 0;
        foreach (var v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }
        if (max == min) return (1f, 0);
        var best = (Scale: 0f, ZeroPoint: 0, Error: double.PositiveInfinity);
        foreach (var low in AsymmetricRangeFactors)
            foreach (var high in AsymmetricRangeFactors)
            {
                var scale = (max * high - min * low) / 15;
                var zeroPoint = (int)Math.Clamp(MathF.Round(-min * low / scale, MidpointRounding.ToEven), 0, 15);
                var error = SquaredError(values, scale, zeroPoint);
                if (error < best.Error) best = (scale, zeroPoint, error);
            }
        return (best.Scale, best.ZeroPoint);
    }

    private static double SquaredError(ReadOnlySpan<float> values, float scale, int zeroPoint)
    {
        double sum = 0;
        foreach (var v in values)
        {
            double e = (Code(v, scale, zeroPoint) - zeroPoint) * scale - v;
            sum += e * e;
        }
        return sum;
    }
}
