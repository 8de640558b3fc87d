using System.Numerics.Tensors;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Where a GPTQ sweep puts each weight: the grid of a quantization format, which may fix per-block parameters (a
/// scale) when the sweep enters a block, from the weights as the sweep has updated them.
/// </summary>
public interface IGptqGrid
{
    /// <summary>The representable value weight <paramref name="column"/> of row <paramref name="row"/> becomes, recording its code.</summary>
    /// <param name="current">The whole row as updated so far: entries from <paramref name="column"/> to the end of the sweep's block hold every correction of the columns before.</param>
    double Round(int row, int column, ReadOnlySpan<double> current);
}

/// <summary>
/// GPTQ (Frantar et al. 2022, "Accurate post-training quantization for generative pre-trained transformers"): the
/// columns (inputs) of a weight viewed as rows [N outputs, K inputs] are rounded one after the other, and each rounding
/// error is fed back to the columns not yet rounded through the upper Cholesky factor U of H⁻¹ (H = E[x xᵀ] of the
/// layer's input), which minimises the growth of the output error ‖(W − Ŵ)x‖² over the calibration rows (the OBS
/// update). The update is applied lazily: within a block of <see cref="DefaultBlock"/> columns at once, and to the
/// columns after the block once it is done (the same arithmetic, fewer passes over memory).
/// </summary>
/// <remarks>
/// Cost per layer: O(K³) for U (<see cref="InputHessian.InverseCholeskyUpper"/>, shared by every row) plus O(N·K²)
/// for the sweep. Rows are independent given U; they are swept in tiles of <see cref="RowsPerTile"/>, tiles in
/// parallel, each row in a fixed order: the bytes are the same on any machine and thread count.
/// </remarks>
public static class Gptq
{
    /// <summary>Columns updated together before the rest of the row sees their errors (GPTQ's lazy batch).</summary>
    public const int DefaultBlock = 128;

    /// <summary>
    /// Rows swept together, so that each row of U is read from memory once per tile instead of once per row: for large
    /// K, U (K² doubles) is far larger than the cache and the row-by-row sweep waited on memory.
    /// </summary>
    public const int RowsPerTile = 16;

    /// <summary>
    /// Sweeps <paramref name="rows"/> ([n, k] row-major) onto <paramref name="grid"/>, row <c>firstRow + r</c> of
    /// the grid for row r. Inputs <see cref="InputHessian.Dead"/> are zeroed first (they never reach the output).
    /// </summary>
    /// <param name="block">Lazy batch: a multiple of any block the grid fixes parameters for, so the grid sees finished columns.</param>
    /// <returns>The rounded rows (what the model computes with), [n, k].</returns>
    public static double[] Run(ReadOnlySpan<float> rows, int n, int k, InputHessian hessian, IGptqGrid grid, int firstRow = 0, int block = DefaultBlock)
    {
        if (rows.Length != (long)n * k) throw new ArgumentException($"Expected {n}×{k} weights, got {rows.Length}.", nameof(rows));
        if (hessian.Dimension != k) throw new ArgumentException($"H is {hessian.Dimension}×{hessian.Dimension}, the weight has {k} inputs.", nameof(hessian));
        var upper = hessian.InverseCholeskyUpper();
        var source = rows.ToArray();
        var result = new double[source.Length];
        var tiles = (n + RowsPerTile - 1) / RowsPerTile;
        Parallel.For(0, tiles, t =>
        {
            var (first, count) = (t * RowsPerTile, Math.Min(RowsPerTile, n - t * RowsPerTile));
            SweepTile(source.AsSpan(first * k, count * k), result.AsSpan(first * k, count * k), count, upper, hessian.Dead, grid, firstRow + first, block);
        });
        return result;
    }

    private static void SweepTile(ReadOnlySpan<float> source, Span<double> rounded, int count, double[] upper, IReadOnlyList<bool> dead, IGptqGrid grid, int firstRow, int block)
    {
        var k = source.Length / count;
        var w = new double[source.Length];
        for (var i = 0; i < w.Length; i++) w[i] = dead[i % k] ? 0 : source[i];
        var errors = new double[count * block];
        for (var start = 0; start < k; start += block)
        {
            var end = Math.Min(start + block, k);
            for (var r = 0; r < count; r++)
            {
                var row = w.AsSpan(r * k, k);
                for (var j = start; j < end; j++)
                {
                    var q = grid.Round(firstRow + r, j, row);
                    rounded[r * k + j] = q;
                    var error = (row[j] - q) / upper[j * k + j];
                    errors[r * block + j - start] = error;
                    Subtract(row[(j + 1)..end], error, upper.AsSpan(j * k + j + 1, end - j - 1));
                }
            }
            // The block's errors reach the rest of each row in one pass, column by column in a fixed order.
            for (var j = start; j < end; j++)
            {
                var feedback = upper.AsSpan(j * k + end, k - end); // row j of U past the block: read once for the tile
                for (var r = 0; r < count; r++)
                {
                    var error = errors[r * block + j - start];
                    if (error != 0) Subtract(w.AsSpan(r * k + end, k - end), error, feedback);
                }
            }
        }
    }

    /// <summary>
    /// w −= error·u element by element, vectorised: w + (−error)·u rounds exactly as w − error·u (a product and a sum,
    /// never fused), so the bytes are those of the scalar loop.
    /// </summary>
    private static void Subtract(Span<double> w, double error, ReadOnlySpan<double> u) => TensorPrimitives.MultiplyAdd(u, -error, w, w);
}
