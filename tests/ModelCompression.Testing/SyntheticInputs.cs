using ModelCompression.Core.Tensors;

namespace ModelCompression.Testing;

/// <summary>Deterministic pseudo-random tensors for feeding models in tests.</summary>
public static class SyntheticInputs
{
    /// <summary>Floats uniform in [<paramref name="low"/>, <paramref name="high"/>), the same for the same seed.</summary>
    public static NdArray Uniform(long[] shape, int seed, float low = -1f, float high = 1f)
    {
        var random = new Random(seed);
        var count = shape.Aggregate(1L, (a, d) => a * d);
        var values = new float[count];
        for (var i = 0; i < values.Length; i++) values[i] = low + (float)random.NextDouble() * (high - low);
        return NdArray.Create<float>(shape, values);
    }

    public static NdArray Scalar(long value) => NdArray.Create<long>([], [value]);
}
