using Microsoft.ML.OnnxRuntime;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// What the chosen plan achieved when it was locked, for information (the lock is judged by its
/// inputs, not by these figures; a re-measured plan is judged against the budgets). Only figures that
/// the same inputs reproduce: latency, which changes from run to run, is in the report, not here.
/// </summary>
/// <param name="Candidate">The candidate's label in the report, e.g. "int4+int8".</param>
/// <param name="SearchScore">The score on the samples the search ranked candidates on; null when that was the validation set itself.</param>
/// <param name="ValidationScore">The score on the full validation set, which the budgets were judged on.</param>
/// <param name="OriginalScore">The original model's score on the validation set.</param>
public sealed record LockedResult(
    string Candidate, double? SearchScore, double ValidationScore, double OriginalScore, long SizeBytes, long OriginalSizeBytes);

/// <summary>Whether a lock holds a plan for the current inputs.</summary>
public enum LockState
{
    /// <summary>No lock file (or one without any plan).</summary>
    Missing,
    /// <summary>Apply the locked plan without searching, and measure it again.</summary>
    Current,
    /// <summary>The inputs changed, or the lock holds plans only for other settings: search again (or, in locked mode, fail with MC5002).</summary>
    Stale,
}

/// <summary>A lock compared with the current inputs: the plan to apply when current; <see cref="Reasons"/> says in plain words why not.</summary>
public sealed record LockStatus(LockState State, IReadOnlyList<string> Reasons, PlanLock? Plan = null)
{
    public bool IsCurrent => State == LockState.Current;
}

/// <summary>
/// One locked plan: the plan chosen for these inputs, so that every machine applies the same plan (and, on the
/// platform that made it, gets a byte-identical model) without searching. A lock file (<see cref="PlanLockSet"/>)
/// holds one per distinct <see cref="LockSettings"/>.
/// </summary>
/// <param name="Inputs">What the plan was made from; a change makes the plan stale.</param>
/// <param name="OnnxRuntimeVersion">The runtime that measured the plan. Not part of <see cref="Inputs"/>: after an
/// upgrade the plan is applied and measured again, and a regression is MC5003, not a silent re-plan.</param>
/// <param name="CompressedModelSha256">The SHA-256 of the compressed model file the plan produced (<see cref="ContentHash.OfFile"/>).</param>
/// <param name="Platform">Where that model was made (<see cref="CurrentPlatform"/>); null in plans written in format 2.</param>
public sealed record PlanLock(LockInputs Inputs, string OnnxRuntimeVersion, Plan Plan, LockedResult Result, string CompressedModelSha256, string? Platform = null)
{
    /// <summary>
    /// The version of the file format; a reader refuses newer ones (MC5004) and treats ones older than
    /// <see cref="OldestReadFormat"/> as stale. Version 3 added each plan's platform, so a tool that reads only 2 says so.
    /// </summary>
    public const int FormatVersion = 3;

    /// <summary>The oldest format read as it is: version 2, whose plans name no platform.</summary>
    public const int OldestReadFormat = 2;

    /// <summary>The ONNX Runtime this process runs on, e.g. "1.31.1".</summary>
    public static string CurrentOnnxRuntimeVersion => OrtEnv.Instance().GetVersionString();

    /// <summary>Where this process computes: <see cref="KernelPlatform.Current"/>.</summary>
    public static string CurrentPlatform => KernelPlatform.Current;

    /// <summary>Whether the locked model was made on another platform than this one, so its bytes are not expected here.</summary>
    public bool MadeElsewhere => Platform is not null && Platform != CurrentPlatform;

    /// <summary>Current when <paramref name="current"/> equals the locked inputs; otherwise stale, with every difference.</summary>
    public LockStatus Compare(LockInputs current)
    {
        var reasons = current.ChangesFrom(Inputs);
        return new LockStatus(reasons.Count == 0 ? LockState.Current : LockState.Stale, reasons, reasons.Count == 0 ? this : null);
    }
}

/// <summary>
/// What a plan lock file holds: one <see cref="PlanLock"/> per distinct settings, sorted by
/// <see cref="LockSettings.Key"/>, so that projects sharing a model with different budgets or data keep
/// their own plan and a new plan reads as a small diff.
/// </summary>
public sealed class PlanLockSet
{
    private PlanLockSet(IEnumerable<PlanLock> plans, int? olderFormat)
    {
        Plans = plans.OrderBy(p => p.Inputs.Settings.Key, StringComparer.Ordinal).ToList();
        OlderFormat = olderFormat;
    }

    public static PlanLockSet Empty { get; } = new([], null);

    /// <summary>A lock written in an older format, whose plans this tool does not read (all of them are stale).</summary>
    public static PlanLockSet Outdated(int formatVersion) => new([], formatVersion);

    /// <exception cref="ArgumentException">Two plans have the same settings.</exception>
    public static PlanLockSet Of(IEnumerable<PlanLock> plans)
    {
        var list = plans.ToList();
        if (SameSettings(list) is { } same)
            throw new ArgumentException($"Plans {string.Join(" and ", same)} are locked for the same settings ({list[same[0]].Inputs.Settings.Key}).", nameof(plans));
        return new PlanLockSet(list, null);
    }

    /// <summary>The positions of the first plans that share their settings; null when every plan's settings are distinct.</summary>
    public static IReadOnlyList<int>? SameSettings(IReadOnlyList<PlanLock> plans) =>
        Enumerable.Range(0, plans.Count).GroupBy(i => plans[i].Inputs.Settings.Key, StringComparer.Ordinal)
            .FirstOrDefault(g => g.Count() > 1)?.ToList();

    public IReadOnlyList<PlanLock> Plans { get; }

    /// <summary>The format version of an older lock file this set stands for; null for a current one.</summary>
    public int? OlderFormat { get; }

    /// <summary>The plan for <paramref name="current"/>'s settings, compared with its inputs; for settings without a plan, the nearest plan's differences.</summary>
    public LockStatus StatusFor(LockInputs current)
    {
        if (OlderFormat is { } version)
            return new LockStatus(LockState.Stale, [$"the lock is in format {version}, written by an earlier version of ModelCompression.Build"]);
        if (Plans.Count == 0) return new LockStatus(LockState.Missing, []);
        if (Plans.FirstOrDefault(p => p.Inputs.Settings == current.Settings) is { } plan) return plan.Compare(current);
        var nearest = Plans.Select(p => current.ChangesFrom(p.Inputs)).MinBy(reasons => reasons.Count)!;
        return new LockStatus(LockState.Stale, [$"it holds no plan for these settings (the nearest: {string.Join("; ", nearest)})"]);
    }

    /// <summary>
    /// This set with <paramref name="plan"/> in place of the plan for the same settings. Plans made from another
    /// model are dropped: the model file is shared, so they are stale for every project that uses it.
    /// </summary>
    public PlanLockSet With(PlanLock plan) =>
        new(Plans.Where(p => p.Inputs.Settings != plan.Inputs.Settings && p.Inputs.ModelSha256 == plan.Inputs.ModelSha256).Append(plan), null);

    /// <summary>The position of <paramref name="plan"/> in <see cref="Plans"/> (as the file's <c>plans[i]</c>).</summary>
    public int IndexOf(PlanLock plan) => Plans.ToList().IndexOf(plan);
}
