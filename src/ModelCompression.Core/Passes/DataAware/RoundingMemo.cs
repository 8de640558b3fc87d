using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Data-aware results by H and weight content: every candidate that rounds a layer the same way (a search measures
/// dozens) reuses the O(N·K²) sweep instead of running it again. Kept as long as the H (the collected statistics) lives.
/// Callers must not modify what they get back.
/// </summary>
internal static class RoundingMemo
{
    private static readonly ConditionalWeakTable<InputHessian, ConcurrentDictionary<string, object>> Results = new();

    public static T GetOrAdd<T>(InputHessian hessian, ReadOnlySpan<float> weights, string parameters, Func<T> compute) where T : class
    {
        var key = Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(weights))) + "|" + parameters;
        var results = Results.GetValue(hessian, _ => new ConcurrentDictionary<string, object>(StringComparer.Ordinal));
        if (results.TryGetValue(key, out var known)) return (T)known;
        var value = compute();
        results[key] = value;
        return value;
    }
}
