using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// GPTQ onto the symmetric per-output-channel grid of <see cref="PerChannelQuantizer"/> (int8 Gemm/MatMul/Conv
/// weights): the same scales (max|w| / qmax of each row of the original weight, fixed before the sweep: the
/// error feedback moves weights, never the grid), codes round(w / scale) clamped to [−qmax, qmax] of the updated
/// weights. A grouped Conv sweeps the rows of each group with the H of that group.
/// </summary>
/// <remarks>Cost per layer: O(G·K³ + N·K²) for G groups of K inputs (see <see cref="Gptq"/>).</remarks>
public static class GptqPerChannel
{
    /// <param name="rows">[n, k] row-major: row i holds the weights of output channel i.</param>
    /// <param name="groups">One H per group of n / groups consecutive rows (one for a plain layer).</param>
    /// <returns>Codes [n, k] and one scale per row, as <see cref="PerChannelQuantizer.Quantize"/> returns them for axis 0.</returns>
    public static (sbyte[] Codes, float[] Scales) Quantize(ReadOnlySpan<float> rows, int n, int k, IReadOnlyList<InputHessian> groups, int qmax = 127)
    {
        if (groups.Count < 1 || n % groups.Count != 0)
            throw new ArgumentException($"{n} rows do not split into {groups.Count} groups.", nameof(groups));
        var copy = rows.ToArray();
        return RoundingMemo.GetOrAdd(groups[0], rows, $"per-channel|{n}|{k}|{groups.Count}|{qmax}", () => Tuple.Create(Sweep(copy, n, k, groups, qmax))).Item1;
    }

    private static (sbyte[] Codes, float[] Scales) Sweep(float[] rows, int n, int k, IReadOnlyList<InputHessian> groups, int qmax)
    {
        var (_, scales) = PerChannelQuantizer.Quantize(rows, [n, k], 0, qmax);
        var grid = new Grid(scales, k, qmax, new sbyte[rows.Length]);
        var perGroup = n / groups.Count;
        for (var g = 0; g < groups.Count; g++)
            Gptq.Run(rows.AsSpan(g * perGroup * k, perGroup * k), perGroup, k, groups[g], grid, firstRow: g * perGroup);
        return (grid.Codes, scales);
    }

    private sealed class Grid(float[] scales, int k, int qmax, sbyte[] codes) : IGptqGrid
    {
        public sbyte[] Codes => codes;

        public double Round(int row, int column, ReadOnlySpan<double> current)
        {
            var scale = scales[row];
            var code = (sbyte)Math.Clamp(Math.Round(current[column] / scale, MidpointRounding.ToEven), -qmax, qmax);
            codes[row * k + column] = code;
            return code * scale; // float, as the model dequantizes it
        }
    }
}
