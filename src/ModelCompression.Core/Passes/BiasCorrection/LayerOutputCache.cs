using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>
/// Layer output statistics already measured, keyed by the bytes of the model part that produced them and how they were
/// measured. The candidates of one search often share their first layers' settings, so bias correction would measure the
/// same part again; the same bytes give the same statistics, so each is measured once. An entry holds two numbers per
/// channel; hashing a part costs one serialisation of it.
/// </summary>
internal sealed class LayerOutputCache
{
    private readonly Dictionary<string, (ChannelStatistics Statistics, bool Consistent)> _measured = new(StringComparer.Ordinal);

    /// <summary>Parts run to measure them; the other requests were answered from the cache.</summary>
    public int Measurements { get; private set; }

    /// <param name="part">The model part that computes <paramref name="value"/> (nothing else is hashed).</param>
    /// <param name="how">Everything else the statistics depend on: the samples, the run options, the channel axis.</param>
    public (ChannelStatistics Statistics, bool Consistent) GetOrMeasure(ModelProto part, string value, string how, Func<(ChannelStatistics, bool)> measure)
    {
        var key = $"{OnnxModelFile.HashOf(part)} {value} {how}";
        lock (_measured)
            if (_measured.TryGetValue(key, out var known)) return known;
        var measured = measure();
        lock (_measured)
        {
            _measured[key] = measured;
            Measurements++;
        }
        return measured;
    }
}
