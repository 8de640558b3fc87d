using Microsoft.ML.OnnxRuntime;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// What the chosen plan achieved when it was locked, for information (the lock is judged by its
/// inputs, not by these figures; a re-measured plan is judged against the budgets).
/// </summary>
/// <param name="Candidate">The candidate's label in the report, e.g. "int4+int8".</param>
/// <param name="SearchScore">The score on the samples the search ranked candidates on; null when that was the validation set itself.</param>
/// <param name="ValidationScore">The score on the full validation set, which the budgets were judged on.</param>
/// <param name="OriginalScore">The original model's score on the validation set.</param>
/// <param name="LatencyRatio">Median latency / the original's, rounded to 0.01; null when not measured.</param>
public sealed record LockedResult(
    string Candidate, double? SearchScore, double ValidationScore, double OriginalScore, long SizeBytes, long OriginalSizeBytes, double? LatencyRatio);

/// <summary>Whether a lock fits the current inputs.</summary>
public enum LockState
{
    /// <summary>Apply the locked plan without searching, and measure it again.</summary>
    Current,
    /// <summary>The inputs changed: search again (or, in locked mode, fail with MC5002).</summary>
    Stale,
}

/// <summary>A lock compared with the current inputs; <see cref="Reasons"/> says in plain words why it is stale.</summary>
public sealed record LockStatus(LockState State, IReadOnlyList<string> Reasons)
{
    public bool IsCurrent => State == LockState.Current;
}

/// <summary>
/// The plan lock, <c>&lt;model&gt;.compression.lock.json</c> beside the source model, meant to be
/// committed: the plan chosen for these inputs, so that every machine applies the same plan (and
/// gets a byte-identical model) without searching. Read and written by <see cref="PlanLockFile"/>.
/// </summary>
/// <param name="Inputs">What the plan was made from; a change makes the lock stale.</param>
/// <param name="OnnxRuntimeVersion">The runtime that measured the plan. Not part of <see cref="Inputs"/>: after an
/// upgrade the plan is applied and measured again, and a regression is MC5003, not a silent re-plan.</param>
/// <param name="CompressedModelSha256">The SHA-256 of the compressed model file the plan produced (<see cref="ContentHash.OfFile"/>).</param>
public sealed record PlanLock(LockInputs Inputs, string OnnxRuntimeVersion, Plan Plan, LockedResult Result, string CompressedModelSha256)
{
    /// <summary>The version of the file format; a reader refuses any other (MC5004).</summary>
    public const int FormatVersion = 1;

    /// <summary>The ONNX Runtime this process runs on, e.g. "1.31.1".</summary>
    public static string CurrentOnnxRuntimeVersion => OrtEnv.Instance().GetVersionString();

    /// <summary>Current when <paramref name="current"/> equals the locked inputs; otherwise stale, with every difference.</summary>
    public LockStatus Compare(LockInputs current)
    {
        var reasons = current.ChangesFrom(Inputs);
        return new LockStatus(reasons.Count == 0 ? LockState.Current : LockState.Stale, reasons);
    }
}
