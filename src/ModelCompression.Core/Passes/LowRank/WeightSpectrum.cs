using MathNet.Numerics.LinearAlgebra;
using MathNet.Numerics.LinearAlgebra.Factorization;

namespace ModelCompression.Core.Passes.LowRank;

/// <summary>
/// The singular value decomposition W = U·S·Vᵀ of a layer's weight, seen as a matrix of <see cref="Rows"/> inputs by
/// <see cref="Columns"/> outputs (the orientation MatMul uses), computed in double precision. Truncated to rank k it
/// is the best rank-k approximation of W (Eckart–Young), and it gives the two factors of a low-rank layer.
/// </summary>
public sealed class WeightSpectrum
{
    private readonly Matrix<double> _u;   // Rows × r, orthonormal columns
    private readonly double[] _s;         // r singular values, largest first
    private readonly Matrix<double> _v;   // Columns × r, orthonormal columns

    private WeightSpectrum(int rows, int columns, Matrix<double> u, double[] s, Matrix<double> v)
    {
        Rows = rows;
        Columns = columns;
        _u = u;
        _s = s;
        _v = v;
    }

    /// <summary>Inputs of the layer (K of a MatMul or Gemm, C of a 1×1 Conv): the first factor's rows.</summary>
    public int Rows { get; }

    /// <summary>Outputs of the layer (N, or M of a Conv): the second factor's columns.</summary>
    public int Columns { get; }

    /// <summary>The min(Rows, Columns) singular values, largest first.</summary>
    public IReadOnlyList<double> SingularValues => _s;

    /// <summary>Bytes the decomposition holds (what a cache of spectra costs).</summary>
    public long Bytes => 8L * (_u.RowCount * _u.ColumnCount + _v.RowCount * _v.ColumnCount + _s.Length);

    /// <summary>Decomposes <paramref name="weight"/>, row-major <paramref name="rows"/> × <paramref name="columns"/>.</summary>
    public static WeightSpectrum Of(ReadOnlySpan<float> weight, int rows, int columns)
    {
        if (weight.Length != (long)rows * columns)
            throw new ArgumentException($"{weight.Length} values do not fill a {rows}×{columns} matrix.", nameof(weight));
        var values = new double[weight.Length];
        for (var i = 0; i < values.Length; i++) values[i] = weight[i];
        var (u, s, v) = ThinSvd(Matrix<double>.Build.Dense(rows, columns, (i, j) => values[i * columns + j]));
        return new WeightSpectrum(rows, columns, u, s, v);
    }

    /// <summary>The share of W's energy (squared Frobenius norm) the first <paramref name="rank"/> singular values keep.</summary>
    public double RetainedEnergy(int rank)
    {
        double kept = 0, total = 0;
        for (var i = 0; i < _s.Length; i++)
        {
            var energy = _s[i] * _s[i];
            total += energy;
            if (i < rank) kept += energy;
        }
        return total == 0 ? 1 : kept / total;
    }

    /// <summary>The smallest rank keeping at least <paramref name="energy"/> of W's energy (see <see cref="LowRankFactorization.RankForEnergy"/>).</summary>
    public int RankForEnergy(double energy) => LowRankFactorization.RankForEnergy(_s, energy);

    /// <summary>
    /// The factors of the rank-<paramref name="rank"/> approximation, as floats: First = U_k·√S_k (Rows × k) and
    /// Second = √S_k·V_kᵀ (k × Columns), both row-major. The singular values are split evenly so that both factors have
    /// the same scale (row and column norms √σᵢ): neither factor nor the activation between them carries all of W's
    /// gain, which keeps both well conditioned for the quantization or palettization that later steps apply to them
    /// per channel, and keeps the intermediate activation in the range of the layer's own input and output.
    /// </summary>
    public (float[] First, float[] Second) Factors(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rank, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rank, _s.Length);
        var first = new float[Rows * rank];
        var second = new float[rank * Columns];
        for (var r = 0; r < rank; r++)
        {
            var root = Math.Sqrt(_s[r]);
            for (var i = 0; i < Rows; i++) first[i * rank + r] = (float)(_u[i, r] * root);
            for (var j = 0; j < Columns; j++) second[r * Columns + j] = (float)(root * _v[j, r]);
        }
        return (first, second);
    }

    // The thin SVD through a QR decomposition: a tall W = Q·R (R square, min(rows, columns) wide) and R = U_r·S·Vᵀ give
    // W = (Q·U_r)·S·Vᵀ. MathNet's own SVD returns the full square U, which for fashion-cnn's 3136×256 weight alone
    // would be 3136×3136. A wide W is decomposed through its transpose.
    private static (Matrix<double> U, double[] S, Matrix<double> V) ThinSvd(Matrix<double> w)
    {
        if (w.RowCount < w.ColumnCount)
        {
            var (u, s, v) = ThinSvd(w.Transpose());
            return (v, s, u);
        }
        var qr = w.QR(QRMethod.Thin);
        var svd = qr.R.Svd(computeVectors: true);
        return (qr.Q * svd.U, svd.S.ToArray(), svd.VT.Transpose());
    }
}
