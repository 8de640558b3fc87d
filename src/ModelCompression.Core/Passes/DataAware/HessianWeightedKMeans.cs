using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Palettes fitted for the layer's output rather than its weights, in two steps. The palettes (coremltools'
/// "sensitive k-means"): a weight's error Δw on input k adds about Δw²·H_kk to the expected squared output error, so
/// each palette is the k-means optimum of Σ H_kk·(w − c(w))² (<see cref="KMeans1D"/> with weights), H_kk the dampened
/// second moment of the weight's input (<see cref="InputHessian.Diagonal"/>; a dead input weighs λ only). The codes:
/// the diagonal ignores how inputs correlate, so the codes are then chosen by a GPTQ sweep (<see cref="Gptq"/>) with
/// the palettes as the grid, each rounding error fed forward to the inputs not yet coded. Palettes, codes and layout
/// are those of <see cref="PalettizedValues"/>, so the pass writes them as before.
/// </summary>
/// <remarks>
/// Cost per layer: the weighted k-means of each palette (as unweighted), plus O(G·K³ + N·K²) for the sweep (G groups
/// of H). Deterministic as <see cref="Gptq"/>.
/// </remarks>
public static class HessianWeightedKMeans
{
    /// <summary>Each tensor element's importance: H_kk of the input it multiplies, in its group's H.</summary>
    public static double[] Importance(WeightRows layout, IReadOnlyList<InputHessian> hessians, long elements)
    {
        if (hessians.Count != layout.Groups) throw new ArgumentException($"Expected {layout.Groups} matrices, got {hessians.Count}.", nameof(hessians));
        var diagonals = hessians.Select(h => h.Diagonal()).ToArray();
        var importance = new double[elements];
        for (var i = 0L; i < elements; i++) importance[i] = diagonals[layout.GroupOf(i)][layout.InputOf(i)];
        return importance;
    }

    /// <summary>
    /// The palettes of <paramref name="values"/> (the weight tensor in its own layout), weighted by <see cref="Importance"/>,
    /// and codes chosen by GPTQ over them.
    /// </summary>
    /// <param name="paletteOf">The palette of each tensor element (<see cref="ChannelLayout.GroupsOf"/>): constant along each row of <paramref name="layout"/>.</param>
    public static PalettizedValues Fit(ReadOnlySpan<float> values, int bits, int palettes, ReadOnlySpan<int> paletteOf,
        WeightRows layout, IReadOnlyList<InputHessian> hessians, PaletteTable table = PaletteTable.Float32)
    {
        var (copy, groups) = (values.ToArray(), paletteOf.ToArray());
        return RoundingMemo.GetOrAdd(hessians[0], values, $"palette|{bits}|{palettes}|{layout}|{hessians.Count}|{table}|{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(groups.AsSpan())))}",
            () => Sweep(copy, bits, palettes, groups, layout, hessians, table));
    }

    private static PalettizedValues Sweep(float[] values, int bits, int palettes, int[] paletteOf, WeightRows layout, IReadOnlyList<InputHessian> hessians, PaletteTable table)
    {
        var weighted = PalettizedValues.FitWeighted(values, Importance(layout, hessians, values.Length), bits, palettes, paletteOf, table);
        var entries = Enumerable.Range(0, palettes).Select(g => Entries(weighted, g)).ToArray();
        var grid = new Grid(layout, entries, paletteOf, new int[values.Length]);
        var rows = layout.Rows(values);
        var (perGroup, k) = (layout.RowsPerGroup, layout.Inputs);
        for (var g = 0; g < layout.Groups; g++)
            Gptq.Run(rows.AsSpan(g * perGroup * k, perGroup * k), perGroup, k, hessians[g], grid, firstRow: g * perGroup);
        return weighted.WithCodes(grid.Codes);
    }

    // A palette's distinct entries (sorted; the table pads each palette by repeating its last centroid).
    private static float[] Entries(PalettizedValues palettes, int group)
    {
        var table = palettes.Table.AsSpan(group * palettes.PaletteSize, palettes.PaletteSize);
        var count = 1;
        while (count < table.Length && table[count] != table[count - 1]) count++;
        return table[..count].ToArray();
    }

    private sealed record Grid(WeightRows Layout, float[][] Entries, int[] PaletteOf, int[] Codes) : IGptqGrid
    {
        public double Round(int row, int column, ReadOnlySpan<double> current)
        {
            var element = Layout.TensorIndex(row, column);
            var entries = Entries[PaletteOf[element]];
            var code = PalettizedValues.Nearest(entries, (float)current[column]);
            Codes[element] = code;
            return entries[code];
        }
    }
}
