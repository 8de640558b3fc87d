namespace ModelCompression.Core.Planning;

/// <summary>How a layer's weights are stored, from the least to the most aggressive.</summary>
public enum Precision
{
    Fp32 = 0,
    Fp16 = 1,
    Int8 = 2,
    Int4 = 3,
}

public static class Precisions
{
    public static string Name(Precision precision) => precision.ToString().ToLowerInvariant();

    /// <summary>The next less aggressive precision among the allowed ones (fp32 is always allowed).</summary>
    public static Precision FallBack(Precision precision, IReadOnlySet<Precision> allowed)
    {
        for (var p = precision - 1; p > Precision.Fp32; p--)
            if (allowed.Contains(p)) return p;
        return Precision.Fp32;
    }
}
