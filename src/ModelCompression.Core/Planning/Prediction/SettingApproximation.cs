using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Planning.Registry;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// The weight a layer setting leaves, computed on the weight alone (no graph is rewritten), as the passes compute it:
/// each format as its technique stores it (<see cref="ICompressionTechnique.Store"/>), low-rank factors from the
/// weight's SVD with each factor stored in the setting's format, and with <see cref="Rounding.Hessian"/> the data-aware
/// methods on the layer's input moments (GPTQ, Hessian-weighted palettes, whitened SVD). Cost: O(weights) per nearest
/// setting, O(N·K²) per data-aware one, plus one SVD per factored layer (cached by <see cref="SpectrumCache"/>).
/// </summary>
public static class SettingApproximation
{
    /// <summary>The approximated weight as rows (<see cref="LayerWeight.Rows"/>).</summary>
    /// <param name="knobs">The int4 block size.</param>
    /// <param name="hessians">The layer's H per group; null rounds every setting to nearest (as the passes do without moments).</param>
    /// <param name="covariance">The H of the layer's input covariance, which factors are fitted to (they are bias-corrected); null without moments.</param>
    public static float[] Approximate(LayerWeight layer, LayerSetting setting, QuantizationKnobs knobs, SpectrumCache spectra, IReadOnlyList<InputHessian>? hessians,
        InputHessian? covariance = null)
    {
        var dataAware = setting.Rounding == Rounding.Hessian && hessians is not null && setting.Sparsity == 0 ? hessians : null;
        if (setting.Rank > 0) return Factored(layer, setting, knobs, spectra, dataAware is null ? null : covariance);
        if (dataAware is not null && DataAware(layer, setting, knobs, dataAware) is { } rows) return rows;
        return layer.RowsOf(Stored(layer.Stored(), layer.Shape, layer.ChannelAxis, setting, knobs));
    }

    /// <summary>A tensor (stored layout, channels along <paramref name="axis"/>) as the technique of the setting's format stores it.</summary>
    private static float[] Stored(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs) =>
        TechniqueRegistry.All.Select(t => t.Store(values, shape, axis, setting, knobs)).FirstOrDefault(v => v is not null) ?? values;

    // The data-aware formats on the rows view (the layout H describes); null for a format without one.
    private static float[]? DataAware(LayerWeight layer, LayerSetting setting, QuantizationKnobs knobs, IReadOnlyList<InputHessian> hessians)
    {
        var (n, k) = (layer.Outputs, layer.Inputs);
        switch (setting.Format)
        {
            case WeightFormat.Int8:
                var (codes, scales) = GptqPerChannel.Quantize(layer.Rows, n, k, hessians);
                return codes.Select((c, i) => c * scales[i / k]).ToArray();
            case WeightFormat.Int4 when hessians.Count == 1:
                var block = Int4WeightQuantization.BlockSizeFor(k, knobs.Int4BlockSize);
                return GptqBlockwise.Quantize(layer.Rows, n, k, block, Int4Settings.Default.Symmetric, hessians[0]).Dequantize();
            case WeightFormat.Palette:
                var layout = WeightPalettization.GroupLayout([n, k], 0, WeightPalettization.DefaultChannelGroupSize, setting.Bits);
                return HessianWeightedKMeans.Fit(layer.Rows, setting.Bits, layout.Groups, layout.GroupsOf(layer.Rows.Length),
                    new WeightRows(n, k, hessians.Count, Transposed: false), hessians, refitEntries: knobs.RefitPalettes).Decode();
            default:
                return null;
        }
    }

    // First [K, r] and second [r, N] (MatMul orientation), each stored in the format, multiplied back: rows [N, K].
    private static float[] Factored(LayerWeight layer, LayerSetting setting, QuantizationKnobs knobs, SpectrumCache spectra, InputHessian? covariance)
    {
        var (k, n) = (layer.Inputs, layer.Outputs);
        var matrix = MatrixLayout.Transposed(layer.Rows, n, k);
        var rank = Math.Min(setting.Rank, Math.Min(k, n));
        var (first, second) = covariance is { } h && h.Dimension == k
            ? WhitenedLowRank.Factors(matrix, k, n, rank, h, spectra)
            : spectra.Get(matrix, k, n).Factors(rank);
        var r = first.Length / k;
        var format = setting with { Rank = 0, Rounding = Rounding.Nearest };
        first = Stored(first, [k, r], 1, format, knobs);
        second = Stored(second, [r, n], 1, format, knobs);
        var rows = new float[n * k];
        for (var j = 0; j < n; j++)
            for (var i = 0; i < k; i++)
            {
                var sum = 0f;
                for (var t = 0; t < r; t++) sum += first[i * r + t] * second[t * n + j];
                rows[j * k + i] = sum;
            }
        return rows;
    }
}
