namespace ModelCompression.Core.Tensors;

/// <summary>Row-major matrix layouts.</summary>
public static class MatrixLayout
{
    /// <summary>The <paramref name="rows"/> × <paramref name="columns"/> row-major <paramref name="values"/>, transposed (columns × rows).</summary>
    public static T[] Transposed<T>(ReadOnlySpan<T> values, int rows, int columns)
    {
        if (values.Length != (long)rows * columns) throw new ArgumentException($"{values.Length} values do not fill a {rows}×{columns} matrix.", nameof(values));
        var result = new T[values.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++)
                result[c * rows + r] = values[r * columns + c];
        return result;
    }
}
