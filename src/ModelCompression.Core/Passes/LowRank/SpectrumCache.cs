using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ModelCompression.Core.Passes.LowRank;

/// <summary>
/// Spectra by weight content: the planner tries many ranks for the same layers, and each candidate applies the pass
/// to a fresh copy of the model, so the SVD of a weight is computed once and found again by the hash of its values
/// and shape. Bounded in bytes; the oldest spectra go first. Thread-safe.
/// </summary>
public sealed class SpectrumCache(long capacityBytes = SpectrumCache.DefaultCapacityBytes)
{
    /// <summary>Enough for every eligible weight of the shared models at once (fashion-cnn's largest takes 7 MB).</summary>
    public const long DefaultCapacityBytes = 256L << 20;

    private readonly Dictionary<string, WeightSpectrum> _spectra = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private long _bytes;

    /// <summary>The cache the pass uses when none is given.</summary>
    public static SpectrumCache Shared { get; } = new();

    /// <summary>How many decompositions this cache has computed (hits excluded).</summary>
    public int Computed { get; private set; }

    /// <summary>The spectrum of the row-major <paramref name="rows"/> × <paramref name="columns"/> matrix, computed on first use.</summary>
    public WeightSpectrum Get(float[] weight, int rows, int columns)
    {
        var key = Key(weight, rows, columns);
        lock (_spectra)
            if (_spectra.TryGetValue(key, out var known)) return known;
        var spectrum = WeightSpectrum.Of(weight, rows, columns); // outside the lock: a decomposition takes up to seconds
        lock (_spectra)
        {
            if (_spectra.TryGetValue(key, out var raced)) return raced;
            Computed++;
            _spectra[key] = spectrum;
            _order.Enqueue(key);
            _bytes += spectrum.Bytes;
            while (_bytes > capacityBytes && _order.Count > 1)
            {
                var oldest = _order.Dequeue();
                _bytes -= _spectra[oldest].Bytes;
                _spectra.Remove(oldest);
            }
        }
        return spectrum;
    }

    private static string Key(float[] weight, int rows, int columns)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(BitConverter.GetBytes(rows));
        hash.AppendData(BitConverter.GetBytes(columns));
        hash.AppendData(MemoryMarshal.AsBytes(weight.AsSpan()));
        return Convert.ToHexString(hash.GetHashAndReset());
    }
}
