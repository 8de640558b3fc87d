namespace ModelCompression.Core.Diagnostics;

/// <summary>
/// The stable <c>MCnnnn</c> codes of every error and warning the product reports.
/// Ranges: 1xxx model, 2xxx data, 3xxx configuration, 4xxx budgets, 5xxx plan lock,
/// 6xxx output, 7xxx generated wrapper, 9xxx internal. Codes are never reused or renumbered.
/// </summary>
public static class DiagnosticCode
{
    /// <summary>The model file does not exist.</summary>
    public const string ModelNotFound = "MC1001";
    /// <summary>The model file is not a valid ONNX model (truncated, corrupt, or not ONNX).</summary>
    public const string ModelInvalid = "MC1002";
    /// <summary>ONNX Runtime cannot load or run the model (unsupported operator, opset or type).</summary>
    public const string ModelUnsupported = "MC1003";
    /// <summary>A tensor's external-data file is missing or shorter than the model says.</summary>
    public const string ExternalDataMissing = "MC1004";
    /// <summary>The model's signature cannot be fixed for the wrapper (a dimension no data resolves).</summary>
    public const string SignatureUnresolved = "MC1005";
    /// <summary>A tensor's external-data location points outside the model's folder (a relative path climbing out, an absolute path, or a symbolic link).</summary>
    public const string ExternalDataOutsideModelFolder = "MC1006";

    /// <summary>A data file (ValidationData or CalibrationData) does not exist.</summary>
    public const string DataNotFound = "MC2001";
    /// <summary>A data file is not a readable .npz archive of .npy arrays.</summary>
    public const string DataInvalid = "MC2002";
    /// <summary>The data's array names do not match the model's inputs.</summary>
    public const string DataNamesMismatch = "MC2003";
    /// <summary>An array's shape or element type does not fit its model input.</summary>
    public const string DataShapeMismatch = "MC2004";
    /// <summary>The arrays hold different sample counts, or none.</summary>
    public const string DataSampleCountMismatch = "MC2005";
    /// <summary>The metric needs a <c>labels</c> array, or the labels are not valid class indices.</summary>
    public const string LabelsInvalid = "MC2006";
    /// <summary>The data holds NaN or infinity, in an input or in what the original model computes from it.</summary>
    public const string DataNotFinite = "MC2007";
    /// <summary>The validation data holds too few samples to tell whether MaxAccuracyDrop holds (one sample weighs more than the budget).</summary>
    public const string DataTooSmallForBudget = "MC2008";
    /// <summary>TrainingData is the ValidationData file: distillation never trains on the samples that judge it.</summary>
    public const string TrainingDataIsValidationData = "MC2009";
    /// <summary>Warning: no ValidationData, so only lossless passes run.</summary>
    public const string NoValidationData = "MC2101";

    /// <summary>An item metadata or property value cannot be parsed.</summary>
    public const string InvalidSetting = "MC3001";
    /// <summary>A file an item metadata names for the wrapper (the Labels file) does not exist.</summary>
    public const string MetadataFileNotFound = "MC3002";
    /// <summary>Warning: Techniques lists <c>distill</c> but the ModelCompression.Build.Distillation package is not installed, so the search cannot distil.</summary>
    public const string DistillationPackageMissing = "MC3101";
    /// <summary>Warning: the distillation package is installed but could not start (libtorch or the plugin did not load); the build keeps the post-training plan.</summary>
    public const string DistillationUnavailable = "MC3102";

    /// <summary>No candidate keeps the metric within MaxAccuracyDrop.</summary>
    public const string AccuracyBudgetNotMet = "MC4001";
    /// <summary>No candidate within the accuracy budget fits MaxSize.</summary>
    public const string SizeBudgetNotMet = "MC4002";
    /// <summary>No candidate within the other budgets meets MaxLatency (or is not slower than the original).</summary>
    public const string LatencyBudgetNotMet = "MC4003";

    /// <summary>Warning: the search reached ModelCompressionMaxSearchTime before its work was done, so its plan depends on the machine's speed.</summary>
    public const string SearchTimeExceeded = "MC4101";

    /// <summary>Locked mode: the plan lock is missing.</summary>
    public const string LockMissing = "MC5001";
    /// <summary>Locked mode: the plan lock does not match the model, data, budgets or tool version.</summary>
    public const string LockStale = "MC5002";
    /// <summary>The locked plan, re-measured, no longer meets its budget.</summary>
    public const string LockedPlanRegressed = "MC5003";
    /// <summary>The plan lock file cannot be read, a plan in it was edited, or a locked plan does not apply to the model.</summary>
    public const string LockInvalid = "MC5004";
    /// <summary>Locked mode: the locked plan, applied again, gives another model than the one the lock records.</summary>
    public const string LockedModelDiffers = "MC5005";

    /// <summary>An output file cannot be written.</summary>
    public const string OutputWriteFailed = "MC6001";

    /// <summary>The generator cannot read a signature sidecar, or the sidecar declares a tensor the wrapper cannot bind
    /// (an element type without a blittable .NET counterpart, such as bfloat16, or more elements than an array holds; strings are MC7011).</summary>
    public const string SignatureInvalid = "MC7001";
    /// <summary>The ClassName or Namespace is not a valid C# identifier (or a keyword, or an all-lowercase class name).</summary>
    public const string InvalidTypeName = "MC7002";
    /// <summary>Two signature sidecars of one project generate the same class (same Namespace and ClassName).</summary>
    public const string DuplicateWrapperClass = "MC7003";
    /// <summary>The wrapper metadata of a CompressedModel item is invalid: MaxBatchSize is not a whole number of at least 1
    /// or the model has no free batch axis, or a MaxSizes entry is malformed or names no free dimension of the inputs.</summary>
    public const string InvalidWrapperMetadata = "MC7010";
    /// <summary>A model input or output is a string tensor: strings have no fixed size, so the wrapper cannot bind them to a pinned buffer.</summary>
    public const string StringTensorUnsupported = "MC7011";
    /// <summary>The Labels file holds a number of lines that no class-score output's class count matches.</summary>
    public const string LabelsCountMismatch = "MC7012";
    /// <summary>Labels are given for a model without a class-score output (shape [N, C] of float, double or float16), so they are not used.</summary>
    public const string LabelsWithoutClassScores = "MC7013";

    /// <summary>An unexpected internal failure (a bug: please report it with the log).</summary>
    public const string InternalError = "MC9001";
    /// <summary>The compression worker could not be started or ended without a result.</summary>
    public const string WorkerFailed = "MC9002";
    /// <summary>Warning: a lossless rewrite changed the model's outputs on the data, so it was discarded (a bug: please report it).</summary>
    public const string LosslessRewriteDiscarded = "MC9003";
}
