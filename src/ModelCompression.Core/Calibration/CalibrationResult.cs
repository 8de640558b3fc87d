namespace ModelCompression.Core.Calibration;

/// <summary>
/// The statistics calibration collected, by tensor name. Ranges for any method and encoding come from
/// the same statistics (when histograms were collected), so one calibration serves every candidate.
/// </summary>
public sealed class CalibrationResult
{
    private readonly IReadOnlyDictionary<string, ActivationStatistics> _statistics;

    public CalibrationResult(IEnumerable<ActivationStatistics> statistics, int sampleCount)
    {
        _statistics = statistics.ToDictionary(s => s.Tensor, StringComparer.Ordinal);
        SampleCount = sampleCount;
        HasHistograms = _statistics.Count > 0 && _statistics.Values.All(s => s.HasHistogram);
    }

    /// <summary>How many calibration samples the statistics cover.</summary>
    public int SampleCount { get; }

    /// <summary>Every tensor has a histogram, so every <see cref="CalibrationMethod"/> applies.</summary>
    public bool HasHistograms { get; }

    public IReadOnlyCollection<string> Tensors => (IReadOnlyCollection<string>)_statistics.Keys;

    public bool Contains(string tensor) => _statistics.ContainsKey(tensor);

    /// <summary>Whether ranges for <paramref name="settings"/> can be given for <paramref name="tensor"/>.</summary>
    public bool Supports(string tensor, CalibrationSettings settings) =>
        _statistics.TryGetValue(tensor, out var s) && (!settings.NeedsHistograms || s.HasHistogram);

    public ActivationStatistics Statistics(string tensor) =>
        _statistics.TryGetValue(tensor, out var s) ? s : throw new KeyNotFoundException($"Tensor '{tensor}' was not calibrated.");

    public ActivationRange Range(string tensor, CalibrationSettings settings) => RangeSelection.Select(Statistics(tensor), settings);

    public QuantizationParameters Parameters(string tensor, CalibrationSettings settings) =>
        Range(tensor, settings).ToParameters(settings.Symmetric);
}
