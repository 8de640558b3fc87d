using ModelCompression.Core.Tensors;

namespace ModelCompression.Testing;

/// <summary>Element-wise closeness: |actual − expected| ≤ Absolute + Relative·|expected|.</summary>
public sealed record Tolerance(double Absolute, double Relative)
{
    /// <summary>For rewrites that only reorder float arithmetic in small synthetic graphs (a few ulp of float32).</summary>
    public static Tolerance Tight { get; } = new(1e-5, 1e-5);

    public static Tolerance Exact { get; } = new(0, 0);
}

/// <summary>Compares model outputs: same element type and shape; floats within a tolerance (NaN equals NaN), everything else exactly.</summary>
public static class OutputComparison
{
    /// <summary>A description of the first difference, or null when the arrays agree.</summary>
    public static string? Difference(NdArray expected, NdArray actual, Tolerance tolerance)
    {
        if (expected.ElementType != actual.ElementType) return $"element type {actual.ElementType}, expected {expected.ElementType}";
        if (!expected.Shape.SequenceEqual(actual.Shape)) return $"shape [{string.Join(",", actual.Shape.ToArray())}], expected [{string.Join(",", expected.Shape.ToArray())}]";
        if (expected.Strings is not null)
        {
            for (var i = 0; i < expected.Strings.Length; i++)
                if (expected.Strings[i] != actual.Strings![i]) return $"element {i} is \"{actual.Strings[i]}\", expected \"{expected.Strings[i]}\"";
            return null;
        }
        if (expected.ElementType is DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16)
        {
            var e = ToDoubles(expected);
            var a = ToDoubles(actual);
            for (var i = 0; i < e.Length; i++)
            {
                if (double.IsNaN(e[i]) && double.IsNaN(a[i])) continue;
                if (e[i] == a[i]) continue; // equal infinities included
                if (!(Math.Abs(a[i] - e[i]) <= tolerance.Absolute + tolerance.Relative * Math.Abs(e[i])))
                    return $"element {i} is {a[i]:G9}, expected {e[i]:G9} (difference {Math.Abs(a[i] - e[i]):G3})";
            }
            return null;
        }
        return expected.Data.AsSpan().SequenceEqual(actual.Data) ? null : "the values differ (compared exactly)";
    }

    /// <summary>The differences between two output sets, one line per output; empty when they agree.</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyDictionary<string, NdArray> expected, IReadOnlyDictionary<string, NdArray> actual, Tolerance tolerance)
    {
        var differences = new List<string>();
        foreach (var (name, value) in expected)
        {
            if (!actual.TryGetValue(name, out var other)) differences.Add($"{name}: missing");
            else if (Difference(value, other, tolerance) is { } difference) differences.Add($"{name}: {difference}");
        }
        return differences;
    }

    /// <summary>The largest |actual − expected| over all float outputs (NaN pairs ignored).</summary>
    public static double MaxAbsoluteDifference(IReadOnlyDictionary<string, NdArray> expected, IReadOnlyDictionary<string, NdArray> actual)
    {
        var max = 0.0;
        foreach (var (name, value) in expected)
        {
            if (value.Strings is not null || value.ElementType is not (DataType.Float or DataType.Double or DataType.Float16)) continue;
            var e = ToDoubles(value);
            var a = ToDoubles(actual[name]);
            for (var i = 0; i < e.Length; i++)
                if (!double.IsNaN(e[i]) && !double.IsNaN(a[i]) && e[i] != a[i]) max = Math.Max(max, Math.Abs(a[i] - e[i]));
        }
        return max;
    }

    private static double[] ToDoubles(NdArray array) =>
        array.ElementType == DataType.Double ? array.AsSpan<double>().ToArray() : Array.ConvertAll(array.ToFloats(), v => (double)v);
}
