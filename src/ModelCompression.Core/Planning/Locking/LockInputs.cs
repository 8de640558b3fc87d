using System.Globalization;
using ModelCompression.Core.Data;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// The settings that decide a plan, normalized: the metric as resolved, the techniques in a fixed
/// order, the budgets as numbers. <c>ModelCompressionMaxSearchTime</c> is not among them: a longer
/// search may find a better plan, but the locked one stays valid.
/// </summary>
/// <param name="Metric">The metric's name as the <c>Metric</c> metadata writes it (<c>accuracy</c>, <c>agreement</c>...).</param>
/// <param name="Techniques">The allowed techniques, ';'-separated in <see cref="Technique"/> order.</param>
/// <param name="MaxAccuracyDrop">In score points: 0.01 is one percentage point.</param>
public sealed record LockSettings(string Metric, string Techniques, double MaxAccuracyDrop, long? MaxSizeBytes, double? MaxLatencyMilliseconds)
{
    public static LockSettings From(MetricKind metric, Technique techniques, Budgets budgets) =>
        new(MetricKinds.Name(metric), Names(techniques), budgets.MaxAccuracyDrop, budgets.MaxSizeBytes, budgets.MaxLatency?.TotalMilliseconds);

    /// <summary>"fusion;int8;int4": the names the <c>Techniques</c> metadata accepts.</summary>
    public static string Names(Technique techniques) =>
        string.Join(";", Enum.GetValues<Technique>()
            .Where(t => t != Technique.None && t != Technique.All && techniques.HasFlag(t))
            .Select(t => t.ToString().ToLowerInvariant()));

    /// <summary>What changed from <paramref name="locked"/> to these settings, in plain words.</summary>
    internal IEnumerable<string> ChangesFrom(LockSettings locked)
    {
        if (Metric != locked.Metric) yield return $"Metric changed from {locked.Metric} to {Metric}";
        if (Techniques != locked.Techniques) yield return $"Techniques changed from {Or(locked.Techniques)} to {Or(Techniques)}";
        if (MaxAccuracyDrop != locked.MaxAccuracyDrop)
            yield return $"MaxAccuracyDrop changed from {Percent(locked.MaxAccuracyDrop)} to {Percent(MaxAccuracyDrop)}";
        if (MaxSizeBytes != locked.MaxSizeBytes)
            yield return $"MaxSize changed from {Size(locked.MaxSizeBytes)} to {Size(MaxSizeBytes)}";
        if (MaxLatencyMilliseconds != locked.MaxLatencyMilliseconds)
            yield return $"MaxLatency changed from {Milliseconds(locked.MaxLatencyMilliseconds)} to {Milliseconds(MaxLatencyMilliseconds)}";
    }

    public static string Percent(double fraction) => (100 * fraction).ToString("0.####", CultureInfo.InvariantCulture) + "%";

    private static string Or(string techniques) => techniques.Length == 0 ? "none" : techniques;

    private static string Size(long? bytes) => bytes is { } b ? Quantity.FormatSize(b) : "none";

    private static string Milliseconds(double? ms) => ms is { } m ? m.ToString("0.###", CultureInfo.InvariantCulture) + " ms" : "none";
}

/// <summary>
/// The fingerprint of everything a plan is made from: the tool that planned it, the model, the
/// data (by content) and the settings. When any of it changes, a locked plan is stale.
/// </summary>
/// <param name="ModelSha256">See <see cref="ContentHash.OfModelFile"/>.</param>
/// <param name="ValidationDataSha256">See <see cref="ContentHash.OfNpzContent"/>; null without <c>ValidationData</c>.</param>
/// <param name="CalibrationDataSha256">Null when the calibration data is the validation data (no <c>CalibrationData</c> of its own).</param>
public sealed record LockInputs(
    string ToolVersion, string ModelSha256, string? ValidationDataSha256, string? CalibrationDataSha256, LockSettings Settings)
{
    /// <summary>Fingerprints <paramref name="request"/>'s model, data and settings.</summary>
    /// <param name="metric">The metric as resolved (<see cref="CompressionRequest.Metric"/>, or the default for the data).</param>
    /// <param name="toolVersion">Defaults to <see cref="Compressor.ToolVersion"/>.</param>
    /// <exception cref="Diagnostics.CompressionException">MC2001/MC2002 a data file is missing or unreadable.</exception>
    public static LockInputs Of(CompressionRequest request, MetricKind metric, string? toolVersion = null)
    {
        var validation = request.ValidationDataPath;
        var calibration = request.CalibrationDataPath;
        var separateCalibration = calibration is not null &&
            (validation is null || !string.Equals(Path.GetFullPath(calibration), Path.GetFullPath(validation), StringComparison.Ordinal));
        return new LockInputs(
            toolVersion ?? Compressor.ToolVersion,
            ContentHash.OfModelFile(request.ModelPath),
            validation is null ? null : ContentHash.OfNpzContent(validation, DataSetting.ValidationData),
            separateCalibration ? ContentHash.OfNpzContent(calibration!, DataSetting.CalibrationData) : null,
            LockSettings.From(metric, request.Techniques, request.Budgets));
    }

    /// <summary>Why a plan made from <paramref name="locked"/> does not fit these inputs, in plain words; empty when it does.</summary>
    public IReadOnlyList<string> ChangesFrom(LockInputs locked)
    {
        var reasons = new List<string>();
        if (ToolVersion != locked.ToolVersion) reasons.Add($"the tool version changed from {locked.ToolVersion} to {ToolVersion}");
        if (ModelSha256 != locked.ModelSha256) reasons.Add("the model changed");
        if (DataChange("validation data", "ValidationData", locked.ValidationDataSha256, ValidationDataSha256) is { } validation) reasons.Add(validation);
        if (DataChange("calibration data", "CalibrationData", locked.CalibrationDataSha256, CalibrationDataSha256) is { } calibration) reasons.Add(calibration);
        reasons.AddRange(Settings.ChangesFrom(locked.Settings));
        return reasons;
    }

    private static string? DataChange(string what, string setting, string? locked, string? current) => (locked, current) switch
    {
        _ when locked == current => null,
        (null, _) => $"{setting} is now set",
        (_, null) => $"{setting} is no longer set",
        _ => $"the {what} changed",
    };
}
