using System.Numerics.Tensors;
using ModelCompression.Core.LayerStatistics;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// How much a weight change ΔW changes a layer's output on its calibration inputs, relative to the output:
/// tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) with H = E[x xᵀ]. Without moments H is taken as the identity (the weight's own relative
/// error). Cost: O(N·K²) per change with moments, reading H once (rows of H outer, output rows inner: H is the large
/// operand, up to 81 MB), O(N·K) without.
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

    // Σ_n v_nᵀ H_g(n) v_n over the rows v_n of a weight-shaped matrix.
    private double Quadratic(ReadOnlySpan<float> rows)
    {
        var (n, k) = (_layer.Outputs, _layer.Inputs);
        if (_moments is null) return TensorPrimitives.Dot(rows, rows);
        var perGroup = Math.Max(1, n / _layer.Groups);
        double sum = 0;
        for (var g = 0; g < _layer.Groups; g++)
        {
            var h = _moments.Of(g);
            var first = g * perGroup;
            var count = g == _layer.Groups - 1 ? n - first : perGroup;
            for (var i = 0; i < k; i++)
            {
                var hRow = h.Slice(i * k, k);
                for (var r = first; r < first + count; r++)
                {
                    var row = rows.Slice(r * k, k);
                    sum += (double)TensorPrimitives.Dot(hRow, row) * row[i];
                }
            }
        }
        return sum;
    }
}
