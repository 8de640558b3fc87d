using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Palettes fitted for the layer's output rather than its weights (coremltools' "sensitive k-means"): a weight's
/// rounding error Δw on input k adds about Δw²·H_kk to the expected squared output error, so each palette is the
/// k-means optimum of Σ H_kk·(w − c(w))² (<see cref="KMeans1D"/> with weights), H_kk the dampened second moment of the
/// weight's input (<see cref="InputHessian.Diagonal"/>; a dead input weighs λ only). Codes still pick the nearest
/// entry; the palettes, codes and layout are those of <see cref="PalettizedValues"/>, so the pass writes them as before.
/// </summary>
/// <remarks>Cost per layer: O(K²) to read H's diagonal plus the weighted k-means of each palette (as unweighted).</remarks>
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

    /// <summary>The palettes of <paramref name="values"/> (the weight tensor in its own layout), weighted by <see cref="Importance"/>.</summary>
    public static PalettizedValues Fit(ReadOnlySpan<float> values, int bits, int groups, ReadOnlySpan<int> groupOf,
        WeightRows layout, IReadOnlyList<InputHessian> hessians, PaletteTable table = PaletteTable.Float32) =>
        PalettizedValues.FitWeighted(values, Importance(layout, hessians, values.Length), bits, groups, groupOf, table);
}
