namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// The second moment H = E[x xᵀ] of the rows a layer multiplies its weight with, in the layout of the
/// weight's input axis: K for MatMul and Gemm (a row of A, or a column with transA), C/group·kh·kw for Conv
/// (an im2col patch, channel-major like the weight's inner axes). A grouped Conv has one matrix per group,
/// read by the output channels of that group.
/// </summary>
/// <param name="Dimension">The length of one input row.</param>
/// <param name="Groups">1, except a grouped Conv: one matrix per group.</param>
/// <param name="Rows">How many rows were accumulated.</param>
/// <param name="Matrix">Groups × Dimension × Dimension, row-major and symmetric.</param>
public sealed record InputMoments(int Dimension, int Groups, long Rows, float[] Matrix)
{
    /// <summary>The matrix of one group, Dimension × Dimension row-major.</summary>
    public ReadOnlySpan<float> Of(int group) => MemoryOf(group).Span;

    /// <summary><see cref="Of"/> as memory, for a reader that keeps it.</summary>
    public ReadOnlyMemory<float> MemoryOf(int group) => Matrix.AsMemory(group * Dimension * Dimension, Dimension * Dimension);

    /// <summary>The first moment E[x], Groups × Dimension; null when it was not collected.</summary>
    public float[]? Mean { get; init; }

    /// <summary>
    /// The covariance E[x xᵀ] − E[x]E[x]ᵀ (these moments when the mean is unknown): the error a layer keeps once its
    /// bias is corrected, as factored layers' always are. Made once.
    /// </summary>
    public InputMoments Centred()
    {
        if (Mean is null) return this;
        return _centred ??= Build();

        InputMoments Build()
        {
            var matrix = (float[])Matrix.Clone();
            var n = Dimension;
            for (var g = 0; g < Groups; g++)
                for (var i = 0; i < n; i++)
                    for (var j = 0; j < n; j++)
                        matrix[(g * n + i) * n + j] -= Mean[g * n + i] * Mean[g * n + j];
            return new InputMoments(Dimension, Groups, Rows, matrix);
        }
    }

    private InputMoments? _centred;
}

/// <summary>The input statistics of a model's layers, by node name.</summary>
public interface ILayerStatistics
{
    /// <summary>The moments of <paramref name="node"/>'s weight input, or null when they were not collected.</summary>
    InputMoments? For(string node);
}
