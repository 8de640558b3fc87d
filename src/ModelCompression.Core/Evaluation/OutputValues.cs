namespace ModelCompression.Core.Evaluation;

/// <summary>
/// One sample's value of one model output, as floats in row-major order. The last axis is the
/// class (or feature) axis; every other index is a position (a time step, a pixel, ...).
/// </summary>
public readonly record struct OutputValues(ReadOnlyMemory<float> Values, int LastAxis)
{
    /// <summary>The number of vectors along the last axis (1 for a [1, classes] output).</summary>
    public int Positions => LastAxis == 0 ? 0 : Values.Length / LastAxis;

    /// <summary>The vector along the last axis at <paramref name="position"/>.</summary>
    public ReadOnlySpan<float> At(int position) => Values.Span.Slice(position * LastAxis, LastAxis);

    /// <summary>The index of the largest value of each position (the first on ties or NaN, as numpy's argmax).</summary>
    public int[] ArgMax()
    {
        var result = new int[Positions];
        for (var p = 0; p < result.Length; p++) result[p] = ArgMaxOf(At(p));
        return result;
    }

    internal static int ArgMaxOf(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (float.IsNaN(values[i])) return i;
            if (values[i] > values[best]) best = i;
        }
        return best;
    }
}
