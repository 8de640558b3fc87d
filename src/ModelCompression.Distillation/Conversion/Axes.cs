namespace ModelCompression.Distillation.Conversion;

/// <summary>ONNX axis arithmetic: negative axes count from the end.</summary>
internal static class Axes
{
    public static long Normalize(long axis, long rank) =>
        axis < 0 ? axis + rank : axis;

    public static long[] Normalize(IEnumerable<long> axes, long rank) =>
        axes.Select(a => Normalize(a, rank)).ToArray();
}
