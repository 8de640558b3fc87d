using System.Numerics.Tensors;
using ModelCompression.Core.LayerStatistics;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// How much a weight change ΔW changes a layer's output on its calibration inputs, relative to the output:
/// tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) with H = E[x xᵀ]. Without moments H is taken as the identity (the weight's own relative
/// error). Cost: O(N·K²) with moments, O(N·K) without.
/// </summary>
public static class OutputError
{
    /// <param name="approximation">The changed weight, as rows (<see cref="LayerWeight.Rows"/>).</param>
    public static double Relative(LayerWeight layer, ReadOnlySpan<float> approximation, InputMoments? moments)
    {
        if (moments is not null && (moments.Dimension != layer.Inputs || moments.Groups != layer.Groups)) moments = null;
        var delta = new float[layer.Inputs];
        var product = new float[layer.Inputs];
        double changed = 0, total = 0;
        var perGroup = Math.Max(1, layer.Outputs / layer.Groups);
        for (var n = 0; n < layer.Outputs; n++)
        {
            var row = layer.Rows.AsSpan(n * layer.Inputs, layer.Inputs);
            TensorPrimitives.Subtract(approximation.Slice(n * layer.Inputs, layer.Inputs), row, delta);
            if (moments is null)
            {
                changed += TensorPrimitives.Dot<float>(delta, delta);
                total += TensorPrimitives.Dot<float>(row, row);
                continue;
            }
            var h = moments.Of(Math.Min(n / perGroup, layer.Groups - 1));
            changed += Quadratic(h, delta, product);
            total += Quadratic(h, row, product);
        }
        return total > 0 ? changed / total : 0;
    }

    // vᵀ H v, H row-major symmetric.
    private static double Quadratic(ReadOnlySpan<float> h, ReadOnlySpan<float> v, Span<float> product)
    {
        var k = v.Length;
        for (var i = 0; i < k; i++) product[i] = TensorPrimitives.Dot(h.Slice(i * k, k), v);
        return TensorPrimitives.Dot<float>(product, v);
    }
}
