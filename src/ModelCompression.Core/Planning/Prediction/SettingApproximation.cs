using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Sparsity;

namespace ModelCompression.Core.Planning.Prediction;

/// <summary>
/// The weight a layer setting leaves, computed on the weight alone (no graph is rewritten), as the passes compute it:
/// per-channel int8, int4 blocks along K, palettes per 16 output channels, magnitude pruning with palettes on the
/// survivors, low-rank factors from the weight's SVD with each factor stored in the setting's format. Cost: O(weights)
/// per setting, plus one SVD per factored layer (cached by <see cref="SpectrumCache"/>).
/// </summary>
public static class SettingApproximation
{
    /// <summary>The approximated weight as rows (<see cref="LayerWeight.Rows"/>).</summary>
    /// <param name="knobs">The int4 block size.</param>
    public static float[] Approximate(LayerWeight layer, LayerSetting setting, QuantizationKnobs knobs, SpectrumCache spectra)
    {
        if (setting.Rank > 0) return Factored(layer, setting, knobs, spectra);
        var stored = layer.Stored();
        if (setting.Sparsity > 0) return layer.RowsOf(Sparse(stored, setting.Sparsity, setting.Bits));
        return layer.RowsOf(Stored(stored, layer.Shape, layer.ChannelAxis, setting, knobs));
    }

    /// <summary>A tensor (stored layout, channels along <paramref name="axis"/>) in one storage format.</summary>
    private static float[] Stored(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs)
    {
        switch (setting.Format)
        {
            case WeightFormat.Fp16:
                return values.Select(v => (float)(Half)v).ToArray();
            case WeightFormat.Int8:
                var (codes, scales) = PerChannelQuantizer.Quantize(values, shape, axis);
                var inner = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
                return codes.Select((c, i) => c * scales[(int)(i / inner % shape[axis])]).ToArray();
            case WeightFormat.Int4:
                // MatMulNBits reads [N, K]: the stored [K, N] transposed.
                var (k, n) = ((int)shape[0], (int)shape[1]);
                var rows = axis == 1 ? Transposed(values, k, n) : values;
                if (axis == 0) (k, n) = (n, k);
                var block = Int4WeightQuantization.BlockSizeFor(k, knobs.Int4BlockSize);
                var dequantized = BlockQuantizer.Quantize(rows, n, k, block, Int4Settings.Default.Symmetric).Dequantize();
                return axis == 1 ? Transposed(dequantized, n, k) : dequantized;
            case WeightFormat.Palette:
                var layout = WeightPalettization.GroupLayout(shape, axis, WeightPalettization.DefaultChannelGroupSize, setting.Bits);
                return PalettizedValues.Fit(values, setting.Bits, layout.Groups, layout.GroupsOf(values.Length)).Decode();
            default:
                return values;
        }
    }

    // Magnitude pruning, then the survivors' palette (one per tensor, as the pass stores it).
    private static float[] Sparse(float[] values, double sparsity, int bits)
    {
        var pruned = MagnitudeThreshold.Prune([values], sparsity)[0];
        var survivors = pruned.Where(v => v != 0).ToArray();
        if (survivors.Length == 0) return pruned;
        var decoded = PalettizedValues.Fit(survivors, bits).Decode();
        for (int i = 0, j = 0; i < pruned.Length; i++)
            if (pruned[i] != 0) pruned[i] = decoded[j++];
        return pruned;
    }

    // First [K, r] and second [r, N] (MatMul orientation), each stored in the format, multiplied back: rows [N, K].
    private static float[] Factored(LayerWeight layer, LayerSetting setting, QuantizationKnobs knobs, SpectrumCache spectra)
    {
        var (k, n, r) = (layer.Inputs, layer.Outputs, setting.Rank);
        var spectrum = spectra.Get(Transposed(layer.Rows, n, k), k, n);
        var (first, second) = spectrum.Factors(Math.Min(r, spectrum.SingularValues.Count));
        r = first.Length / k;
        var format = setting with { Rank = 0 };
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

    private static float[] Transposed(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < columns; j++)
                result[j * rows + i] = values[i * columns + j];
        return result;
    }
}
