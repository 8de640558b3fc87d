using MathNet.Numerics.LinearAlgebra;
using ModelCompression.Core.Passes.Palettization;
using Simd = System.Numerics;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Palettes fitted for the layer's output rather than its weights, in three steps. The palettes (coremltools'
/// "sensitive k-means"): a weight's error Δw on input k adds about Δw²·H_kk to the expected squared output error, so
/// each palette is the k-means optimum of Σ H_kk·(w − c(w))² (<see cref="KMeans1D"/> with weights), H_kk the dampened
/// second moment of the weight's input (<see cref="InputHessian.Diagonal"/>; a dead input weighs λ only). The codes:
/// the diagonal ignores how inputs correlate, so the codes are then chosen by a GPTQ sweep (<see cref="Gptq"/>) with
/// the palettes as the grid, each rounding error fed forward to the inputs not yet coded. The entries, on request:
/// refitted to those codes with the whole H (<see cref="RefittedTable"/>). Palettes, codes and layout are those of
/// <see cref="PalettizedValues"/>, so the pass writes them as before.
/// </summary>
/// <remarks>
/// Cost per layer: the weighted k-means of each palette (as unweighted), plus O(G·K³ + N·K²) for the sweep (G groups
/// of H) and O(N·K²) for the refit. Deterministic as <see cref="Gptq"/>.
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
    /// <param name="refitEntries">Refit the entries to the codes (<see cref="RefittedTable"/>); otherwise they stay the weighted k-means.</param>
    /// <param name="paletteOf">The palette of each tensor element (<see cref="ChannelLayout.GroupsOf"/>): constant along each row of <paramref name="layout"/>.</param>
    public static PalettizedValues Fit(ReadOnlySpan<float> values, int bits, int palettes, ReadOnlySpan<int> paletteOf,
        WeightRows layout, IReadOnlyList<InputHessian> hessians, PaletteTable table = PaletteTable.Float32, bool refitEntries = false)
    {
        var (copy, groups) = (values.ToArray(), paletteOf.ToArray());
        return RoundingMemo.GetOrAdd(hessians[0], values, $"palette|{refitEntries}|{bits}|{palettes}|{layout}|{hessians.Count}|{table}|{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(groups.AsSpan())))}",
            () => Sweep(copy, bits, palettes, groups, layout, hessians, table, refitEntries));
    }

    private static PalettizedValues Sweep(float[] values, int bits, int palettes, int[] paletteOf, WeightRows layout, IReadOnlyList<InputHessian> hessians,
        PaletteTable table, bool refitEntries)
    {
        var weighted = PalettizedValues.FitWeighted(values, Importance(layout, hessians, values.Length), bits, palettes, paletteOf, table);
        var entries = Enumerable.Range(0, palettes).Select(g => Entries(weighted, g)).ToArray();
        var grid = new Grid(layout, entries, paletteOf, new int[values.Length]);
        var rows = layout.Rows(values);
        var (perGroup, k) = (layout.RowsPerGroup, layout.Inputs);
        for (var g = 0; g < layout.Groups; g++)
            Gptq.Run(rows.AsSpan(g * perGroup * k, perGroup * k), perGroup, k, hessians[g], grid, firstRow: g * perGroup);
        var coded = weighted.WithCodes(grid.Codes);
        return refitEntries ? coded.WithTable(RefittedTable(coded, entries, rows, paletteOf, layout, hessians, table)) : coded;
    }

    /// <summary>
    /// With the codes fixed, the output error Σᵣ (wᵣ − ŵᵣ)ᵀ·H·(wᵣ − ŵᵣ) over the rows of a palette is quadratic in its
    /// entries: they solve A·c = b, A = Σᵣ Mᵣᵀ·H·Mᵣ and b = Σᵣ Mᵣᵀ·H·wᵣ (Mᵣ the one-hot codes of row r), the optimum
    /// that the k-means of the diagonal only approximates (GPTVQ's codebook update). The error can only fall (float16 tables then round the entries). Cost:
    /// O(N·K²) for the N rows of K inputs, as the sweep; each palette is solved apart, so the result is the same on any
    /// thread count.
    /// </summary>
    private static float[] RefittedTable(PalettizedValues coded, float[][] entries, float[] rows, int[] paletteOf, WeightRows layout,
        IReadOnlyList<InputHessian> hessians, PaletteTable table)
    {
        var result = coded.Table.ToArray();
        var rowsOf = Enumerable.Range(0, layout.Outputs).GroupBy(r => paletteOf[layout.TensorIndex(r, 0)]).ToArray();
        Parallel.ForEach(rowsOf, palette =>
        {
            var refitted = Refit(entries[palette.Key], palette.ToArray(), coded.Codes, rows, layout, hessians);
            if (table == PaletteTable.Float16) refitted = refitted.Select(e => (float)(Half)e).ToArray();
            var slots = result.AsSpan(palette.Key * coded.PaletteSize, coded.PaletteSize);
            for (var i = 0; i < slots.Length; i++) slots[i] = refitted[Math.Min(i, refitted.Length - 1)];
        });
        return result;
    }

    // A block's sums stay in a core's cache: a few rows (more were slower), fewer for wide palettes and layers.
    private const int MaxRefitBlockRows = 4;
    private const long RefitBlockBytes = 4 << 20;

    private static float[] Refit(float[] entries, int[] paletteRows, int[] codes, float[] rows, WeightRows layout, IReadOnlyList<InputHessian> hessians)
    {
        var (size, k) = (entries.Length, layout.Inputs);
        var (a, b) = (new double[size * size], new double[size]);
        // Per row of a block, row p of its sums: Σ of H's rows j whose code is p (H is symmetric). A block's rows read
        // each row of H once, while it is in the cache.
        var blockRows = (int)Math.Clamp(RefitBlockBytes / (8L * size * k), 1, Math.Min(MaxRefitBlockRows, paletteRows.Length));
        var summed = Enumerable.Range(0, blockRows).Select(_ => new double[size * k]).ToArray();
        var code = Enumerable.Range(0, blockRows).Select(_ => new int[k]).ToArray();
        for (var start = 0; start < paletteRows.Length;)
        {
            var group = paletteRows[start] / layout.RowsPerGroup;
            var count = 1;
            while (count < blockRows && start + count < paletteRows.Length && paletteRows[start + count] / layout.RowsPerGroup == group) count++;
            var hessian = hessians[group];
            var h = hessian.Undampened;
            var (shift, dead) = (hessian.DiagonalShift, hessian.Dead);
            for (var t = 0; t < count; t++)
            {
                Array.Clear(summed[t]);
                for (var j = 0; j < k; j++) code[t][j] = codes[layout.TensorIndex(paletteRows[start + t], j)];
            }
            for (var j = 0; j < k; j++)
            {
                if (dead[j]) continue; // never reaches the output
                var row = h.Slice(j * k, k);
                for (var t = 0; t < count; t++)
                {
                    var sum = summed[t].AsSpan(code[t][j] * k, k);
                    AddWidened(sum, row);
                    sum[j] += shift;
                }
            }
            for (var t = 0; t < count; t++)
            {
                var w = rows.AsSpan(paletteRows[start + t] * k, k);
                for (var p = 0; p < size; p++)
                {
                    var sum = summed[t].AsSpan(p * k, k);
                    for (var i = 0; i < k; i++)
                    {
                        if (dead[i]) continue;
                        a[code[t][i] * size + p] += sum[i];
                        b[p] += sum[i] * w[i];
                    }
                }
            }
            start += count;
        }
        // An entry no code uses keeps its value; a tiny ridge keeps A definite when two entries' codes always co-occur.
        var ridge = 1e-9 * Enumerable.Range(0, size).Max(p => a[p * size + p]);
        for (var p = 0; p < size; p++)
        {
            if (a[p * size + p] == 0) (a[p * size + p], b[p]) = (1, entries[p]);
            else a[p * size + p] += ridge;
        }
        try
        {
            var solution = Matrix<double>.Build.DenseOfRowMajor(size, size, a).Cholesky().Solve(Vector<double>.Build.DenseOfArray(b));
            return solution.Any(double.IsNaN) ? entries : solution.Select(v => (float)v).ToArray();
        }
        catch (ArgumentException)
        {
            return entries; // not definite in rounding: the k-means entries stand
        }
    }

    // sum += values, each widened to double: one IEEE addition per element, the same in a vector as alone, so the
    // result does not depend on the vector width.
    private static void AddWidened(Span<double> sum, ReadOnlySpan<float> values)
    {
        var i = 0;
        if (Simd.Vector.IsHardwareAccelerated)
            for (var step = Simd.Vector<float>.Count; i <= values.Length - step; i += step)
            {
                Simd.Vector.Widen(new Simd.Vector<float>(values[i..]), out var low, out var high);
                var first = sum.Slice(i, Simd.Vector<double>.Count);
                var second = sum.Slice(i + Simd.Vector<double>.Count, Simd.Vector<double>.Count);
                (new Simd.Vector<double>(first) + low).CopyTo(first);
                (new Simd.Vector<double>(second) + high).CopyTo(second);
            }
        for (; i < values.Length; i++) sum[i] += values[i];
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
