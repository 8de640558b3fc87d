using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ModelCompression.Core.Passes.LowRank;

/// <summary>
/// Spectra by weight content: the planner tries many ranks for the same layers, and each candidate applies the pass
/// to a fresh copy of the model, so the SVD of a weight is computed once and found again by the hash of its values
/// and shape. Bounded in bytes (the latest is kept even when larger); the least recently used spectra go first. Thread-safe.
/// </summary>
public sealed class SpectrumCache(long capacityBytes = SpectrumCache.DefaultCapacityBytes)
{
    /// <summary>Enough for every eligible weight of the shared models at once (fashion-cnn's largest takes 7 MB).</summary>
    public const long DefaultCapacityBytes = 256L << 20;

    private readonly DataAware.BoundedCache _spectra = new(capacityBytes, keepsTheNewest: true);
    private int _computed;

    /// <summary>The cache the pass uses when none is given.</summary>
    public static SpectrumCache Shared { get; } = new();

    /// <summary>How many decompositions this cache has computed (hits excluded).</summary>
    public int Computed => _computed;

    /// <summary>
    /// The spectrum of the row-major <paramref name="rows"/> × <paramref name="columns"/> matrix, computed on first use
    /// (once, when several threads ask for it at the same time).
    /// </summary>
    public WeightSpectrum Get(float[] weight, int rows, int columns) => _spectra.GetOrAdd(Key(weight, rows, columns), () =>
    {
        Interlocked.Increment(ref _computed);
        return WeightSpectrum.Of(weight, rows, columns);
    }, spectrum => spectrum.Bytes);

    private static string Key(float[] weight, int rows, int columns)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes(rows));
        hash.AppendData(BitConverter.GetBytes(columns));
        hash.AppendData(MemoryMarshal.AsBytes(weight.AsSpan()));
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
