using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>
/// Layer output statistics already measured, keyed by the bytes of the model part that produced them and how they were
/// measured, and the reference's outputs for bias correction's checks (<see cref="OutputsOf"/>). The candidates of one
/// search often share their first layers' settings, so bias correction would measure the same part again; the same
/// bytes give the same statistics, so each is measured once. An entry holds two numbers per channel; hashing a part
/// costs one serialisation of it.
/// </summary>
internal sealed class LayerOutputCache
{
    private readonly Dictionary<string, (ChannelStatistics Statistics, bool Consistent)> _measured = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RecordedOutputs> _outputs = new(StringComparer.Ordinal);

    /// <summary>How many bytes of one model's outputs <see cref="OutputsOf"/> keeps (a search keeps its reference's).</summary>
    public const long RecordedOutputBytes = 256L << 20;

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

    /// <summary>
    /// The statistics of several values of a whole model, those not measured before measured together by one call of
    /// <paramref name="measureMissing"/> (one run of the model).
    /// </summary>
    /// <param name="hash">The model's <see cref="OnnxModelFile.HashOf"/>.</param>
    /// <param name="howOf">Per value: everything else its statistics depend on, as for a part.</param>
    public Dictionary<string, ChannelStatistics> GetOrMeasure(string hash, IReadOnlyDictionary<string, string> howOf,
        Func<IReadOnlyList<string>, IReadOnlyDictionary<string, ChannelStatistics>> measureMissing)
    {
        var result = new Dictionary<string, ChannelStatistics>(StringComparer.Ordinal);
        lock (_measured)
            foreach (var (value, how) in howOf)
                if (_measured.TryGetValue($"{hash} {value} {how}", out var known)) result[value] = known.Statistics;
        var missing = howOf.Keys.Where(v => !result.ContainsKey(v)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count == 0) return result;
        var measured = measureMissing(missing);
        lock (_measured)
        {
            foreach (var value in missing) _measured[$"{hash} {value} {howOf[value]}"] = (result[value] = measured[value], true);
            Measurements++;
        }
        return result;
    }

    /// <summary>Batches the models of <see cref="OutputsOf"/> ran on, and batches answered from their kept outputs.</summary>
    public (int Ran, int Replayed) RecordedBatches
    {
        get
        {
            lock (_outputs) return (_outputs.Values.Sum(r => r.Ran), _outputs.Values.Sum(r => r.Replayed));
        }
    }

    /// <summary>The outputs kept so far of the model whose <see cref="OnnxModelFile.HashOf"/> is <paramref name="hash"/>, for runs measured as <paramref name="how"/> says.</summary>
    public RecordedOutputs OutputsOf(string hash, string how)
    {
        var key = $"{hash} {how}";
        lock (_outputs)
        {
            if (!_outputs.TryGetValue(key, out var recorded)) _outputs[key] = recorded = new RecordedOutputs(RecordedOutputBytes);
            return recorded;
        }
    }
}
