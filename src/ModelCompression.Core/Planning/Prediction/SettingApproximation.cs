using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Planning.Registry;

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
        return layer.RowsOf(Stored(stored, layer.Shape, layer.ChannelAxis, setting, knobs));
    }

    /// <summary>A tensor (stored layout, channels along <paramref name="axis"/>) as the technique of the setting's format stores it.</summary>
    private static float[] Stored(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs) =>
        TechniqueRegistry.All.Select(t => t.Store(values, shape, axis, setting, knobs)).FirstOrDefault(v => v is not null) ?? values;

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
