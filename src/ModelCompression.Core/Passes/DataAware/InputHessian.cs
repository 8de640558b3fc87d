using MathNet.Numerics.LinearAlgebra;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// One layer's input second moment H = E[x xᵀ] (K × K), made safe to factor: an input that never fires (H_kk = 0)
/// gets H_kk = 1 (its weights do not matter, GPTQ's convention), and λ = <see cref="DefaultDampening"/> of the mean
/// diagonal is added to the diagonal, so H is positive definite even from fewer rows than K. Factored in double; the
/// factors are kept in <see cref="Factors"/> (bounded), not in the instance, so a large model's layers do not all hold
/// theirs at once (45 layers of K = 2304 would hold 3.8 GB; the cache keeps 12 of them). H itself is the collected
/// moments' own array, not a copy: every layer's H lives as long as the layer statistics, so a copy would double them.
/// </summary>
public sealed class InputHessian
{
    /// <summary>GPTQ's dampening: 1% of the mean diagonal.</summary>
    public const double DefaultDampening = 0.01;

    // Each retry of a failed Cholesky multiplies the dampening by 10 (H⁻¹ can lose definiteness in rounding).
    private const int Retries = 4;

    /// <summary>Factors of H kept across candidates, least recently used dropped beyond this many bytes.</summary>
    public const long FactorCacheBytes = 512L << 20;

    private static readonly BoundedCache Factors = new(FactorCacheBytes);

    private readonly ReadOnlyMemory<float> _values; // K × K row-major, undampened; dead inputs' rows and columns zero
    private readonly bool[] _dead;

    private InputHessian(int dimension, ReadOnlyMemory<float> values, bool[] dead, double dampening)
    {
        Dimension = dimension;
        _values = values;
        _dead = dead;
        Dampening = dampening;
    }

    public int Dimension { get; }

    /// <summary>Inputs whose second moment is 0: always zero on the calibration data.</summary>
    public IReadOnlyList<bool> Dead => _dead;

    /// <summary>λ as a share of the mean diagonal.</summary>
    public double Dampening { get; }

    /// <param name="moments">H, <paramref name="dimension"/>² values row-major (one group of <see cref="LayerStatistics.InputMoments"/>).</param>
    /// <summary>The H of one group of collected moments, made once per moments object (its O(K³) factors then serve every candidate).</summary>
    public static InputHessian Of(LayerStatistics.InputMoments moments, int group) =>
        Shared.GetValue(moments, m => new InputHessian?[m.Groups])[group] ??=
            Over(moments.MemoryOf(group), moments.Dimension, DefaultDampening);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<LayerStatistics.InputMoments, InputHessian?[]> Shared = new();

    /// <summary>The H of an ungrouped layer's input covariance (<see cref="LayerStatistics.InputMoments.Centred"/>): what a bias-corrected layer's output error weighs.</summary>
    public static InputHessian Centred(LayerStatistics.InputMoments moments) => Of(moments.Centred(), 0);

    /// <summary>The H of <paramref name="moments"/>, copied (the caller's values may change later).</summary>
    public static InputHessian Of(ReadOnlySpan<float> moments, int dimension, double dampening = DefaultDampening) =>
        Over(moments.ToArray(), dimension, dampening);

    // Reads the values in place unless a dead input's row or column holds a non-zero (an input whose square underflowed):
    // then a copy with them zeroed.
    private static InputHessian Over(ReadOnlyMemory<float> moments, int dimension, double dampening)
    {
        if (moments.Length != dimension * dimension)
            throw new ArgumentException($"{moments.Length} values do not fill a {dimension}×{dimension} matrix.", nameof(moments));
        var values = moments.Span;
        var dead = new bool[dimension];
        var deadLinesAreZero = true;
        for (var k = 0; k < dimension; k++)
        {
            if (values[k * dimension + k] > 0) continue;
            dead[k] = true;
            for (var j = 0; j < dimension && deadLinesAreZero; j++)
                deadLinesAreZero = j == k || (values[k * dimension + j] == 0 && values[j * dimension + k] == 0);
        }
        return new InputHessian(dimension, deadLinesAreZero ? moments : WithDeadLinesZeroed(values, dead), dead, dampening);
    }

    private static float[] WithDeadLinesZeroed(ReadOnlySpan<float> moments, bool[] dead)
    {
        var values = moments.ToArray();
        var dimension = dead.Length;
        for (var k = 0; k < dimension; k++)
            if (dead[k])
                for (var j = 0; j < dimension; j++)
                    values[k * dimension + j] = values[j * dimension + k] = 0;
        return values;
    }

    /// <summary>
    /// H as collected, K × K row-major, without the dampening. A dead input's row and column are zero apart from its
    /// diagonal entry, which is not positive here and which <see cref="Diagonal"/> and the factors count as 1: readers skip
    /// <see cref="Dead"/> inputs.
    /// </summary>
    internal ReadOnlySpan<float> Undampened => _values.Span;

    /// <summary>λ: what the dampening adds to every diagonal entry.</summary>
    internal double DiagonalShift => Lambda(Dampening);

    /// <summary>The dampened diagonal: how much an error on each input costs the output, E[x_k²] + λ.</summary>
    public double[] Diagonal()
    {
        var lambda = Lambda(Dampening);
        return Enumerable.Range(0, Dimension).Select(k => DiagonalEntry(k) + lambda).ToArray();
    }

    /// <summary>The lower Cholesky factor L of the dampened H = L·Lᵀ.</summary>
    public Matrix<double> CholeskyLower() =>
        Factors.GetOrAdd((this, "lower"), () => WithRetries(d => Dampened(d).Cholesky().Factor), m => 8L * m.RowCount * m.ColumnCount);

    /// <summary>
    /// The upper Cholesky factor U of H⁻¹ = Uᵀ·U, row-major: GPTQ's error feedback reads row j of U to spread the
    /// rounding error of input j over the inputs after it. O(K³).
    /// </summary>
    public double[] InverseCholeskyUpper() => Factors.GetOrAdd((this, "inverse upper"), () => WithRetries(d =>
    {
        // With P the reversal, chol(P·H·P) = L' gives H = R·Rᵀ for the upper triangular R = P·L'·P, so H⁻¹ = R⁻ᵀ·R⁻¹ and
        // U = R⁻¹ = P·L'⁻¹·P: one Cholesky and one triangular inverse (K³/3 + K³/6) instead of inverting H and factoring
        // the inverse (about 2.3·K³; 49 s against 8 s at K = 3136, measured).
        var k = Dimension;
        var inverse = LowerInverseByColumns(Dampened(d, reversed: true).Cholesky().Factor.ToRowMajorArray(), k);
        var upper = new double[k * k];
        for (var a = 0; a < k; a++)
            for (var b = a; b < k; b++)
                upper[a * k + b] = inverse[(k - 1 - b) * k + (k - 1 - a)];
        return upper;
    }), u => 8L * u.Length);

    // The inverse X of a lower triangular L (row-major), column-major: column j by forward substitution, each entry one dot
    // product of contiguous spans (L's row i, X's column j) in a fixed order. Columns go in blocks that share each pass
    // over L's rows (L is read once per block, not once per column); every entry is the same dot product as alone.
    private static double[] LowerInverseByColumns(double[] lower, int k)
    {
        var x = new double[k * k];
        Parallel.For(0, (k + InverseBlockColumns - 1) / InverseBlockColumns, block =>
        {
            var (first, end) = (block * InverseBlockColumns, Math.Min(k, (block + 1) * InverseBlockColumns));
            for (var j = first; j < end; j++) x[j * k + j] = 1 / lower[j * k + j];
            for (var i = first + 1; i < k; i++)
                for (var j = first; j < Math.Min(end, i); j++)
                {
                    var column = x.AsSpan(j * k, k);
                    column[i] = -System.Numerics.Tensors.TensorPrimitives.Dot<double>(lower.AsSpan(i * k + j, i - j), column.Slice(j, i - j)) / lower[i * k + i];
                }
        });
        return x;
    }

    private const int InverseBlockColumns = 8;

    private T WithRetries<T>(Func<double, T> factor)
    {
        var dampening = Dampening;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return factor(dampening);
            }
            catch (ArgumentException) when (attempt < Retries)
            {
                dampening *= 10; // MathNet throws ArgumentException for a matrix that is not positive definite
            }
        }
    }

    private double Lambda(double dampening)
    {
        double trace = 0;
        for (var k = 0; k < Dimension; k++) trace += DiagonalEntry(k);
        return dampening * trace / Dimension;
    }

    // The dampened H, or with reversed: P·H·P (P the reversal), both made in one pass over H.
    private Matrix<double> Dampened(double dampening, bool reversed = false)
    {
        var lambda = Lambda(dampening);
        var values = _values.Span;
        var n = Dimension;
        var columnMajor = new double[values.Length];
        for (var j = 0; j < n; j++)
            for (var i = 0; i < n; i++)
            {
                var (row, column) = reversed ? (n - 1 - i, n - 1 - j) : (i, j);
                columnMajor[j * n + i] = row == column ? DiagonalEntry(row) + lambda : values[row * n + column];
            }
        return Matrix<double>.Build.Dense(n, n, columnMajor);
    }

    // H_kk, with a dead input's entry 1 (GPTQ's convention: its weights then cost as if it fired, and H stays definite).
    private float DiagonalEntry(int k) => _dead[k] ? 1 : _values.Span[k * Dimension + k];
}
