using System.Numerics.Tensors;
using ModelCompression.Core.LayerStatistics;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// How much a weight change ΔW changes a layer's output on its calibration inputs, relative to the output:
/// tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) with H = E[x xᵀ]. Without moments H is taken as the identity (the weight's own relative
/// error). Cost: O(N·K²/2) per change with moments, reading H (up to 81 MB) once per block of rows that fits in a
/// core's cache, O(N·K) without.
/// </summary>
public sealed class OutputError
{
    private readonly LayerWeight _layer;
    private readonly InputMoments? _moments;
    private readonly double _total;

    public OutputError(LayerWeight layer, InputMoments? moments)
    {
        _layer = layer;
        _moments = moments is not null && moments.Dimension == layer.Inputs && moments.Groups == layer.Groups ? moments : null;
        _total = Quadratic(layer.Rows);
    }

    /// <param name="approximation">The changed weight, as rows (<see cref="LayerWeight.Rows"/>).</param>
    public double Relative(ReadOnlySpan<float> approximation)
    {
        var delta = new float[approximation.Length];
        TensorPrimitives.Subtract(approximation, _layer.Rows, delta);
        return _total > 0 ? Quadratic(delta) / _total : 0;
    }

    // Σ_n v_nᵀ H_g(n) v_n over the rows v_n of a weight-shaped matrix, as Σ_i v_i (H_ii v_i + 2 Σ_j>i H_ij v_j) (H is
    // symmetric): half the products, none for the zeros of pruned rows. The rows go in blocks that stay in the core's
    // cache while H's rows stream past them once per block.
    private double Quadratic(ReadOnlySpan<float> rows)
    {
        var (n, k) = (_layer.Outputs, _layer.Inputs);
        if (_moments is null) return TensorPrimitives.Dot(rows, rows);
        var perGroup = Math.Max(1, n / _layer.Groups);
        var block = Math.Max(1, CachedRowBytes / (sizeof(float) * k));
        double sum = 0;
        for (var g = 0; g < _layer.Groups; g++)
        {
            var h = _moments.Of(g);
            var first = g * perGroup;
            var end = g == _layer.Groups - 1 ? n : first + perGroup;
            for (var start = first; start < end; start += block)
                for (var i = 0; i < k; i++)
                {
                    var hRow = h.Slice(i * k, k);
                    for (var r = start; r < Math.Min(end, start + block); r++)
                    {
                        var row = rows.Slice(r * k, k);
                        var vi = row[i];
                        if (vi == 0) continue;
                        sum += vi * ((double)hRow[i] * vi + 2.0 * TensorPrimitives.Dot(hRow[(i + 1)..], row[(i + 1)..]));
                    }
                }
        }
        return sum;
    }

    private const int CachedRowBytes = 128 << 10;
}
