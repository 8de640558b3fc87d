using MathNet.Numerics.LinearAlgebra;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Passes.LowRank;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// The rank-k factors W ≈ A·B (W of m inputs × n outputs, y = x·W as <see cref="WeightSpectrum"/> sees it) that
/// minimise the expected output error E‖x(W − AB)‖² = ‖Lᵀ(W − AB)‖²_F, with H = E[xᵀx] = L·Lᵀ (dampened Cholesky):
/// the truncated SVD of the whitened weight Lᵀ·W = U·S·Vᵀ gives A = L⁻ᵀ·U_k·√S_k and B = √S_k·V_kᵀ (SVD-LLM's
/// whitening). Plain SVD is the case H = I. The factors have <see cref="LowRankFactorization"/>'s layout; the
/// singular values are split evenly as in <see cref="WeightSpectrum.Factors"/>.
/// </summary>
/// <remarks>
/// Cost per layer: O(m³) for the Cholesky factor, O(m²·n) for the whitening and un-whitening, plus the thin SVD of an
/// m × n matrix, O(m·n·min(m, n)); the whitened spectrum is cached by content like the plain one, so the ranks a
/// planner tries cost one SVD.
/// </remarks>
public static class WhitenedLowRank
{
    /// <param name="weight">Row-major <paramref name="m"/> × <paramref name="n"/> (inputs × outputs).</param>
    public static (float[] First, float[] Second) Factors(ReadOnlySpan<float> weight, int m, int n, int rank, InputHessian hessian, SpectrumCache? cache = null)
    {
        if (weight.Length != (long)m * n) throw new ArgumentException($"{weight.Length} values do not fill a {m}×{n} matrix.", nameof(weight));
        if (hessian.Dimension != m) throw new ArgumentException($"H is {hessian.Dimension}×{hessian.Dimension}, the weight has {m} inputs.", nameof(hessian));
        var lower = hessian.CholeskyLower();
        var whitened = Whitened(weight, m, n, hessian, lower);
        var (first, second) = (cache ?? SpectrumCache.Shared).Get(whitened, m, n).Factors(rank);
        return (BackSubstitute(lower, first, rank), second);
    }

    // Lᵀ·W, O(m²·n): kept per H and weight content (within a budget), since every rank of every candidate of a layer whitens the same weight.
    private static float[] Whitened(ReadOnlySpan<float> weight, int m, int n, InputHessian hessian, Matrix<double> lower)
    {
        var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(weight))) + $"|{m}x{n}";
        var values = weight.ToArray();
        return WhitenedWeights.GetOrAdd((hessian, key), () =>
        {
            var w = Matrix<double>.Build.Dense(m, n, (i, j) => values[i * n + j]);
            return (lower.Transpose() * w).ToRowMajorArray().Select(v => (float)v).ToArray();
        }, whitened => 4L * whitened.Length);
    }

    private static readonly BoundedCache WhitenedWeights = new(256L << 20);

    /// <summary>
    /// The input moments of the second factor: its input is x·A (A the first factor, m × rank, row-major), so its H is
    /// Aᵀ·H·A (rank × rank), accumulated over the same rows.
    /// </summary>
    public static InputMoments SecondFactorMoments(InputMoments moments, ReadOnlySpan<float> first, int rank)
    {
        var m = moments.Dimension;
        if (moments.Groups != 1) throw new ArgumentException("Only an ungrouped layer is factored.", nameof(moments));
        if (first.Length != (long)m * rank) throw new ArgumentException($"The first factor should be {m}×{rank}.", nameof(first));
        var values = first.ToArray();
        var h = moments.Of(0).ToArray();
        var a = Matrix<double>.Build.Dense(m, rank, (i, j) => values[i * rank + j]);
        var hm = Matrix<double>.Build.Dense(m, m, (i, j) => h[i * m + j]);
        var projected = a.TransposeThisAndMultiply(hm * a);
        var matrix = new float[rank * rank];
        for (var i = 0; i < rank; i++)
            for (var j = 0; j < rank; j++) matrix[i * rank + j] = (float)(0.5 * (projected[i, j] + projected[j, i]));
        return new InputMoments(rank, 1, moments.Rows, matrix);
    }

    // A = L⁻ᵀ·F: solves Lᵀ·A = F (m × rank, row-major) from the last row up, each row of A from the rows below it, so
    // every inner loop reads contiguous memory (L lower triangular with a positive diagonal; column i of L is row i of Lᵀ).
    private static float[] BackSubstitute(Matrix<double> lower, float[] f, int rank)
    {
        var m = lower.RowCount;
        var l = lower.AsColumnMajorArray() ?? lower.ToColumnMajorArray();
        var a = new double[m * rank];
        for (var i = m - 1; i >= 0; i--)
        {
            var row = a.AsSpan(i * rank, rank);
            for (var c = 0; c < rank; c++) row[c] = f[i * rank + c];
            for (var j = i + 1; j < m; j++)
            {
                var lji = l[i * m + j];
                var below = a.AsSpan(j * rank, rank);
                for (var c = 0; c < rank; c++) row[c] -= lji * below[c];
            }
            var diagonal = l[i * m + i];
            for (var c = 0; c < rank; c++) row[c] /= diagonal;
        }
        var result = new float[a.Length];
        for (var k = 0; k < a.Length; k++) result[k] = (float)a[k];
        return result;
    }
}
