using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Data-aware results by H and weight content: every candidate that rounds a layer the same way (a search measures
/// dozens) reuses the O(N·K²) sweep instead of running it again, within <see cref="CapacityBytes"/> (least recently used
/// dropped first). Callers must not modify what they get back.
/// </summary>
internal static class RoundingMemo
{
    public const long CapacityBytes = 512L << 20;

    private static readonly BoundedCache Results = new(CapacityBytes);

    public static T GetOrAdd<T>(InputHessian hessian, ReadOnlySpan<float> weights, string parameters, Func<T> compute) where T : class
    {
        var bytes = 5L * weights.Length; // about what a result holds: codes and a little more per weight
        return Results.GetOrAdd((hessian, Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(weights))) + "|" + parameters), compute, _ => bytes);
    }
}
