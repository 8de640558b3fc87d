namespace ModelCompression.Core.Planning;

/// <summary>One <c>CompressedModel</c> item, resolved: the files involved and the parsed settings.</summary>
public sealed record CompressionRequest
{
    /// <summary>The source model.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Where the compressed model is written.</summary>
    public required string OutputPath { get; init; }

    public string? ValidationDataPath { get; init; }

    /// <summary>Calibration and fine-tuning data; defaults to the validation data.</summary>
    public string? CalibrationDataPath { get; init; }

    /// <summary>Calibration data is set and is another file than the validation data.</summary>
    public bool HasSeparateCalibrationData =>
        CalibrationDataPath is not null &&
        (ValidationDataPath is null || !string.Equals(Path.GetFullPath(CalibrationDataPath), Path.GetFullPath(ValidationDataPath), StringComparison.Ordinal));

    /// <summary>
    /// The <c>TrainingData</c> metadata: the .npz distillation trains on; null when not set. Never the validation data
    /// (the command line refuses it with MC2009). See <see cref="EffectiveTrainingDataPath"/> for its default.
    /// </summary>
    public string? TrainingDataPath { get; init; }

    /// <summary>
    /// What distillation trains on: <see cref="TrainingDataPath"/>, else separate calibration data; null when neither is
    /// set (the calibration data then is the validation data, which is never trained on).
    /// </summary>
    public string? EffectiveTrainingDataPath =>
        TrainingDataPath ?? (HasSeparateCalibrationData ? CalibrationDataPath : null);

    /// <summary>
    /// The distillation plugin (ModelCompression.Distillation.dll of the ModelCompression.Build.Distillation package),
    /// loaded only when the plan distils; null when the package is not installed.
    /// </summary>
    public string? DistillationPluginPath { get; init; }

    /// <summary>Where libtorch's and TorchSharp's native libraries are (the restored packages' <c>runtimes/linux-x64/native</c>).</summary>
    public IReadOnlyList<string> TorchNativeDirectories { get; init; } = [];

    /// <summary>
    /// The search may distil: Techniques allow it, the distillation package is installed, and there is training data
    /// (<see cref="EffectiveTrainingDataPath"/>) and validation data to judge the result.
    /// </summary>
    public bool CanDistill =>
        Techniques.HasFlag(Technique.Distill) && DistillationPluginPath is not null && ValidationDataPath is not null && EffectiveTrainingDataPath is not null;

    public Budgets Budgets { get; init; } = Budgets.Default;

    /// <summary>The metric; null picks accuracy when the data has labels, else agreement.</summary>
    public MetricKind? Metric { get; init; }

    public Technique Techniques { get; init; } = Technique.All;

    /// <summary>The signature sidecar to write for the generator; null writes none.</summary>
    public string? SignaturePath { get; init; }

    public string ClassName { get; init; } = "";

    public string Namespace { get; init; } = "";

    /// <summary>The compressed model's path relative to the app's directory, as the wrapper loads it.</summary>
    public string ModelRelativePath { get; init; } = "";

    /// <summary>Where the Markdown/JSON/SVG report goes; null writes none.</summary>
    public string? ReportDirectory { get; init; }

    /// <summary>The plan lock; defaults to <c>&lt;model&gt;.compression.lock.json</c> beside the model.</summary>
    public string? LockPath { get; init; }

    /// <summary>Where to record which locked plan made the output (<see cref="Locking.LockStamp"/>); null records nothing.</summary>
    public string? LockStampPath { get; init; }

    /// <summary>Where layer statistics are kept by content hash (a re-search or locked rebuild reuses them); null keeps them in memory only.</summary>
    public string? StatisticsCacheDirectory { get; init; }

    /// <summary>Offer data-aware rounding (GPTQ, Hessian-weighted palettes, whitened SVD) beside nearest; false offers nearest only.</summary>
    public bool DataAwareRounding { get; init; } = true;

    /// <summary>Fail on a missing or stale lock instead of searching.</summary>
    public bool LockedMode { get; init; }

    /// <summary>A safety net, not the bound of the search (counts bound it): well beyond what the default search takes on a busy 2-core machine.</summary>
    public static TimeSpan DefaultMaxSearchTime { get; } = TimeSpan.FromMinutes(30);

    public TimeSpan MaxSearchTime { get; init; } = DefaultMaxSearchTime;
}
