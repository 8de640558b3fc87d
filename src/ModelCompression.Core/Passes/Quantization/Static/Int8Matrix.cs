namespace ModelCompression.Core.Passes.Quantization.Static;

/// <summary>Layout helpers for 2-D int8 weight codes.</summary>
internal static class Int8Matrix
{
    /// <summary>The [columns, rows] transpose of a row-major [rows, columns] matrix (e.g. a Gemm weight with transB, [N, K], as MatMul's [K, N]).</summary>
    public static sbyte[] Transposed(sbyte[] values, int rows, int columns)
    {
        var result = new sbyte[values.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++) result[c * rows + r] = values[r * columns + c];
        return result;
    }
}
