using System.Globalization;
using ModelCompression.Core.Data;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// The settings that decide a plan, normalized: the metric as resolved, the techniques in a fixed
/// order, the budgets as numbers, the data files by their path from the lock's folder. A lock holds
/// one plan per distinct settings, so projects that share a model with other budgets or data keep
/// their own plan. <c>ModelCompressionMaxSearchTime</c> is not among them: a longer search may find a
/// better plan, but the locked one stays valid.
/// </summary>
/// <param name="Metric">The metric's name as the <c>Metric</c> metadata writes it (<c>accuracy</c>, <c>agreement</c>...).</param>
/// <param name="Techniques">The allowed techniques, ';'-separated in <see cref="Technique"/> order.</param>
/// <param name="MaxAccuracyDrop">In score points: 0.01 is one percentage point.</param>
/// <param name="ValidationData">The validation data's path relative to the lock's folder, '/'-separated; null without it.</param>
/// <param name="CalibrationData">The same for separate calibration data; null when the validation data calibrates.</param>
/// <param name="TrainingData">The same for the training data, only when the plan may distil
/// (<see cref="CompressionRequest.CanDistill"/>); null otherwise, so locks of projects that cannot distil keep their keys.</param>
public sealed record LockSettings(
    string Metric, string Techniques, double MaxAccuracyDrop, long? MaxSizeBytes, double? MaxLatencyMilliseconds,
    string? ValidationData = null, string? CalibrationData = null, string? TrainingData = null)
{
    public static LockSettings From(MetricKind metric, Technique techniques, Budgets budgets, string? validationData = null, string? calibrationData = null,
        string? trainingData = null) =>
        new(MetricKinds.Name(metric), Names(techniques), budgets.MaxAccuracyDrop, budgets.MaxSizeBytes, budgets.MaxLatency?.TotalMilliseconds,
            validationData, calibrationData, trainingData);

    /// <summary>One line that orders and identifies settings: plans in a lock are sorted by it, and builds with equal keys wait for each other.</summary>
    /// <remarks>The training data is appended only when set: the keys of plans that cannot distil are those of earlier versions.</remarks>
    public string Key => string.Join("|", Metric, Techniques, MaxAccuracyDrop.ToString("R", CultureInfo.InvariantCulture),
        MaxSizeBytes?.ToString(CultureInfo.InvariantCulture), MaxLatencyMilliseconds?.ToString("R", CultureInfo.InvariantCulture),
        ValidationData, CalibrationData) + (TrainingData is null ? "" : "|training=" + TrainingData);

    /// <summary><paramref name="dataPath"/> as <see cref="ValidationData"/> writes it: relative to <paramref name="lockPath"/>'s folder, '/'-separated.</summary>
    public static string? DataName(string? dataPath, string lockPath) =>
        dataPath is null ? null : Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(lockPath))!, Path.GetFullPath(dataPath)).Replace('\\', '/');

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
        // Set or unset data is named by its content's change (LockInputs); a renamed file here.
        if (ValidationData is not null && locked.ValidationData is not null && ValidationData != locked.ValidationData)
            yield return $"ValidationData changed from {locked.ValidationData} to {ValidationData}";
        if (CalibrationData is not null && locked.CalibrationData is not null && CalibrationData != locked.CalibrationData)
            yield return $"CalibrationData changed from {locked.CalibrationData} to {CalibrationData}";
        if (TrainingData is not null && locked.TrainingData is not null && TrainingData != locked.TrainingData)
            yield return $"TrainingData changed from {locked.TrainingData} to {TrainingData}";
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
/// <param name="TrainingDataSha256">The training data's content hash when the plan may distil (<see cref="CompressionRequest.CanDistill"/>:
/// Techniques allow it, the distillation package is installed and there is training data other than the validation data);
/// null otherwise, so the locks of projects that cannot distil stay valid. Installing the distillation package makes the
/// locks of models that may now distil stale: the search has a technique more.</param>
public sealed record LockInputs(
    string ToolVersion, string ModelSha256, string? ValidationDataSha256, string? CalibrationDataSha256, LockSettings Settings,
    string? TrainingDataSha256 = null)
{
    /// <summary>Fingerprints <paramref name="request"/>'s model, its data as already loaded, and its settings.</summary>
    /// <param name="metric">The metric as resolved (<see cref="CompressionRequest.Metric"/>, or the default for the data).</param>
    /// <param name="validationSha256">The validation data's <see cref="SampleSet.ContentSha256"/>; null without it.</param>
    /// <param name="calibrationSha256">The calibration data's, when <see cref="CompressionRequest.HasSeparateCalibrationData"/>.</param>
    /// <param name="toolVersion">Defaults to <see cref="Compressor.ToolVersion"/>.</param>
    /// <param name="trainingSha256">The training data's content hash, used when <see cref="CompressionRequest.CanDistill"/>;
    /// null hashes <see cref="CompressionRequest.EffectiveTrainingDataPath"/> then.</param>
    /// <exception cref="Diagnostics.CompressionException">MC2001/MC2002 the training data, hashed here, is missing or unreadable.</exception>
    public static LockInputs Of(CompressionRequest request, MetricKind metric, string? validationSha256, string? calibrationSha256, string? toolVersion = null,
        string? trainingSha256 = null)
    {
        var lockPath = PlanLockFile.PathFor(request);
        var separate = request.HasSeparateCalibrationData;
        var training = request.CanDistill ? request.EffectiveTrainingDataPath : null;
        return new LockInputs(
            toolVersion ?? Compressor.ToolVersion,
            ContentHash.OfModelFile(request.ModelPath),
            validationSha256,
            separate ? calibrationSha256 : null,
            LockSettings.From(metric, request.Techniques, request.Budgets,
                LockSettings.DataName(request.ValidationDataPath, lockPath),
                separate ? LockSettings.DataName(request.CalibrationDataPath, lockPath) : null,
                LockSettings.DataName(training, lockPath)),
            training is null ? null : trainingSha256 ?? ContentHash.OfNpzContent(training, DataSetting.TrainingData));
    }

    /// <summary>The same, reading the data files to hash them (for tools and tests; the compressor hashes the data it loads).</summary>
    /// <exception cref="Diagnostics.CompressionException">MC2001/MC2002 a data file is missing or unreadable.</exception>
    public static LockInputs Of(CompressionRequest request, MetricKind metric, string? toolVersion = null) =>
        Of(request, metric,
            request.ValidationDataPath is { } validation ? ContentHash.OfNpzContent(validation, DataSetting.ValidationData) : null,
            request.HasSeparateCalibrationData ? ContentHash.OfNpzContent(request.CalibrationDataPath!, DataSetting.CalibrationData) : null,
            toolVersion);

    /// <summary>Why a plan made from <paramref name="locked"/> does not fit these inputs, in plain words; empty when it does.</summary>
    public IReadOnlyList<string> ChangesFrom(LockInputs locked)
    {
        var reasons = new List<string>();
        if (ToolVersion != locked.ToolVersion) reasons.Add($"the tool version changed from {locked.ToolVersion} to {ToolVersion}");
        if (ModelSha256 != locked.ModelSha256) reasons.Add("the model changed");
        if (DataChange("validation data", "ValidationData", locked.ValidationDataSha256, ValidationDataSha256) is { } validation) reasons.Add(validation);
        if (DataChange("calibration data", "CalibrationData", locked.CalibrationDataSha256, CalibrationDataSha256) is { } calibration) reasons.Add(calibration);
        if (TrainingChange(locked.TrainingDataSha256, TrainingDataSha256) is { } training) reasons.Add(training);
        reasons.AddRange(Settings.ChangesFrom(locked.Settings));
        return reasons;
    }

    private static string? TrainingChange(string? locked, string? current) => (locked, current) switch
    {
        _ when locked == current => null,
        (null, _) => "distillation is now possible (Techniques allow it, the ModelCompression.Build.Distillation package is installed and TrainingData is set)",
        (_, null) => "distillation is no longer possible (Techniques, the ModelCompression.Build.Distillation package or TrainingData changed)",
        _ => "the training data changed",
    };

    private static string? DataChange(string what, string setting, string? locked, string? current) => (locked, current) switch
    {
        _ when locked == current => null,
        (null, _) => $"{setting} is now set",
        (_, null) => $"{setting} is no longer set",
        _ => $"the {what} changed",
    };
}
