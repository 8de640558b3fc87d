using ModelCompression.Core.Passes.Quantization.Int4;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// GPTQ onto <see cref="BlockQuantizer"/>'s 4-bit grid, blocks of <c>blockSize</c> weights along K with one scale
/// (and zero point when asymmetric) each, packed as <see cref="BlockQuantizedWeight"/> for MatMulNBits. Scales follow
/// GPTQ's group mode: a block's scale is chosen when the sweep reaches its first column, from the block's weights as
/// the error feedback of the columns before has updated them, with <see cref="BlockQuantizer"/>'s own clipped-range
/// search (so the grid fits what is actually rounded, not the original weights).
/// </summary>
/// <remarks>Cost per layer: O(K³ + N·K²) (see <see cref="Gptq"/>), plus the scale search, O(N·K) per range tried.</remarks>
public static class GptqBlockwise
{
    /// <param name="rows">[n, k] row-major: row i holds the k weights of output i.</param>
    /// <param name="blockSize">A power of two ≥ 16.</param>
    public static BlockQuantizedWeight Quantize(ReadOnlySpan<float> rows, int n, int k, int blockSize, bool symmetric, InputHessian hessian)
    {
        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size must be a power of two of at least 16.");
        var copy = rows.ToArray();
        return RoundingMemo.GetOrAdd(hessian, rows, $"blocks|{n}|{k}|{blockSize}|{symmetric}", () => Sweep(copy, n, k, blockSize, symmetric, hessian));
    }

    private static BlockQuantizedWeight Sweep(float[] rows, int n, int k, int blockSize, bool symmetric, InputHessian hessian)
    {
        var blocks = (k + blockSize - 1) / blockSize;
        var grid = new Grid(k, blockSize, blocks, symmetric, new byte[rows.Length], new float[n * blocks], new int[n * blocks]);
        // The lazy batch holds whole blocks, so a block's weights are fully updated when its scale is chosen.
        Gptq.Run(rows, n, k, hessian, grid, block: Math.Max(Gptq.DefaultBlock, blockSize));
        return BlockQuantizer.Pack(n, k, blockSize, grid.Codes, grid.Scales, symmetric ? null : grid.ZeroPoints);
    }

    private sealed record Grid(int K, int BlockSize, int Blocks, bool Symmetric, byte[] Codes, float[] Scales, int[] ZeroPoints) : IGptqGrid
    {
        public double Round(int row, int column, ReadOnlySpan<double> current)
        {
            var block = row * Blocks + column / BlockSize;
            if (column % BlockSize == 0)
            {
                var values = current.Slice(column, Math.Min(BlockSize, K - column));
                var asFloats = new float[values.Length];
                for (var i = 0; i < values.Length; i++) asFloats[i] = (float)values[i];
                (Scales[block], ZeroPoints[block]) = BlockQuantizer.ChooseScale(asFloats, Symmetric);
            }
            var (scale, zeroPoint) = (Scales[block], ZeroPoints[block]);
            var code = BlockQuantizer.Code((float)current[column], scale, zeroPoint);
            Codes[row * K + column] = code;
            return (code - zeroPoint) * scale;
        }
    }
}
