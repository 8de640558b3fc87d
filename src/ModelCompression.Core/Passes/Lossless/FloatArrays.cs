using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>Float and double tensors as double arrays, for weight arithmetic done in double and stored back in the weight's type.</summary>
internal static class FloatArrays
{
    public static bool IsSupported(DataType type) => type is DataType.Float or DataType.Double;

    public static double[] Read(NdArray array) => array.ElementType switch
    {
        DataType.Float => Array.ConvertAll(array.AsSpan<float>().ToArray(), v => (double)v),
        DataType.Double => array.AsSpan<double>().ToArray(),
        _ => throw new NotSupportedException($"Weights of type {ElementTypes.Name(array.ElementType)} are not rewritten."),
    };

    public static NdArray Write(DataType type, ReadOnlySpan<long> shape, double[] values) => type switch
    {
        DataType.Float => NdArray.Create<float>(shape, Array.ConvertAll(values, v => (float)v)),
        DataType.Double => NdArray.Create<double>(shape, values),
        _ => throw new NotSupportedException($"Weights of type {ElementTypes.Name(type)} are not rewritten."),
    };
}
