namespace ModelCompression.Core.Passes.Sparsity;

/// <summary>Zeroes the smallest-magnitude weights: exactly ⌊sparsity · count⌋ of them, ties broken by position.</summary>
public static class MagnitudeThreshold
{
    /// <summary>
    /// Copies of <paramref name="tensors"/> in which the ⌊<paramref name="sparsity"/> · total⌋ smallest |w| over all of
    /// them are zero (one threshold across tensors; with one tensor, per-layer pruning). Among equal magnitudes at the
    /// threshold, earlier tensors and earlier elements go first, so the result is deterministic.
    /// </summary>
    public static float[][] Prune(IReadOnlyList<float[]> tensors, double sparsity)
    {
        if (!(sparsity is >= 0 and <= 1)) throw new ArgumentOutOfRangeException(nameof(sparsity), sparsity, "Sparsity must be in [0, 1].");
        var total = tensors.Sum(t => (long)t.Length);
        var prune = (long)Math.Floor(sparsity * total);
        var result = tensors.Select(t => t.ToArray()).ToArray();
        if (prune == 0) return result;

        var magnitudes = new float[total];
        var offset = 0L;
        foreach (var tensor in tensors)
        {
            for (var i = 0; i < tensor.Length; i++) magnitudes[offset + i] = Math.Abs(tensor[i]);
            offset += tensor.Length;
        }
        Array.Sort(magnitudes);
        var threshold = magnitudes[prune - 1];
        var atThreshold = prune - magnitudes.AsSpan(0, (int)prune).IndexOf(threshold); // how many ties to prune
        foreach (var tensor in result)
            for (var i = 0; i < tensor.Length; i++)
            {
                var magnitude = Math.Abs(tensor[i]);
                if (magnitude < threshold || (magnitude == threshold && atThreshold-- > 0)) tensor[i] = 0f;
            }
        return result;
    }

    /// <summary>The fraction of <paramref name="values"/> that are zero.</summary>
    public static double SparsityOf(ReadOnlySpan<float> values)
    {
        var zeros = 0;
        foreach (var v in values) if (v == 0f) zeros++;
        return values.IsEmpty ? 0 : zeros / (double)values.Length;
    }
}
