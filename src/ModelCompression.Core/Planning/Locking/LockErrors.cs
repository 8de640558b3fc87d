using System.Globalization;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>The locked plan applied again to the current inputs, measured on the validation data.</summary>
/// <param name="OriginalScore">The original model's score, measured again now.</param>
/// <param name="Score">The locked plan's score.</param>
/// <param name="MeetsLatency">Whether the measured latency meets <c>MaxLatency</c> (or, without it, is not slower than the
/// original within measurement noise): the caller's judgement, since it owns the noise margin.</param>
/// <param name="LatencyRatio">Median latency / the original's, for the message.</param>
/// <param name="Latency">The median batch-1 latency, for the message when <c>MaxLatency</c> is set.</param>
public sealed record LockedPlanMeasurement(
    double OriginalScore, double Score, long SizeBytes, bool MeetsLatency = true, double? LatencyRatio = null, TimeSpan? Latency = null);

/// <summary>
/// The plan-lock errors: MC5001 and MC5002 stop a locked-mode build before any work (throw them);
/// MC5003 is a budget failure of the re-measured locked plan (report it like MC4001, after the report is written).
/// MC5004, an unreadable lock, comes from <see cref="PlanLockFile.Read"/>.
/// </summary>
public static class LockErrors
{
    private const string LockedModeSetting =
        "ModelCompressionLockedMode (on by default when ContinuousIntegrationBuild is true)";

    /// <summary>MC5001: locked mode, and <paramref name="lockPath"/> does not exist.</summary>
    public static CompressionException Missing(string modelFile, string lockPath) =>
        new(DiagnosticCode.LockMissing, modelFile,
            $"Locked mode is on ({LockedModeSetting}), but the plan lock '{lockPath}' does not exist, and locked mode never searches for a plan. " +
            "Run a build without ModelCompressionLockedMode (or ContinuousIntegrationBuild) to create it, and commit it.");

    /// <summary>MC5002: locked mode, and the lock was made from other inputs (<paramref name="status"/>'s reasons).</summary>
    public static CompressionException Stale(string lockPath, LockStatus status) =>
        new(DiagnosticCode.LockStale, lockPath,
            $"The plan lock '{lockPath}' is stale: {string.Join("; ", status.Reasons)}. Locked mode is on ({LockedModeSetting}), so no new plan is searched. " +
            "Run a build without locked mode to search a new plan and update the lock, then commit it.");

    /// <summary>
    /// MC5003 when the locked plan, applied again and measured (<paramref name="now"/>), breaks one of
    /// <paramref name="budgets"/>; null when it meets them all.
    /// </summary>
    public static Diagnostic? Regression(string modelFile, string lockPath, PlanLock locked, LockedPlanMeasurement now, Budgets budgets)
    {
        var metric = locked.Inputs.Settings.Metric;
        var breaches = new List<string>();
        var drop = now.OriginalScore - now.Score;
        if (!budgets.AllowsDrop(drop))
            breaches.Add($"{metric} {ReportWriter.Score(now.Score)} against the original's {ReportWriter.Score(now.OriginalScore)}, " +
                         $"a drop of {ReportWriter.Points(drop)} where MaxAccuracyDrop allows {ReportWriter.Points(budgets.MaxAccuracyDrop)}");
        if (!budgets.AllowsSize(now.SizeBytes))
            breaches.Add($"{Quantity.FormatSize(now.SizeBytes)} ({now.SizeBytes} bytes) where MaxSize allows {Quantity.FormatSize(budgets.MaxSizeBytes!.Value)} ({budgets.MaxSizeBytes} bytes)");
        if (!now.MeetsLatency)
            breaches.Add(budgets.MaxLatency is { } max
                ? $"a median latency of {(now.Latency is { } l ? Quantity.FormatDuration(l) : "more")} where MaxLatency allows {Quantity.FormatDuration(max)}"
                : $"{Ratio(now.LatencyRatio)} the original's latency where, without MaxLatency, it must not be slower than the original");
        if (breaches.Count == 0) return null;

        var result = locked.Result;
        var runtime = PlanLock.CurrentOnnxRuntimeVersion;
        var cause = runtime != locked.OnnxRuntimeVersion
            ? $"ONNX Runtime changed from {locked.OnnxRuntimeVersion} to {runtime} since then, which changes how the model computes."
            : $"ONNX Runtime is the same version ({runtime}); its kernels also differ between CPUs, so another machine can measure otherwise.";
        return Diagnostic.Error(DiagnosticCode.LockedPlanRegressed, modelFile,
            $"The locked plan ({result.Candidate}), applied again, no longer meets its budgets: {string.Join("; ", breaches)}. " +
            $"When it was locked it scored {ReportWriter.Score(result.ValidationScore)} against the original's {ReportWriter.Score(result.OriginalScore)}, " +
            $"at {Quantity.FormatSize(result.SizeBytes)}. {cause} " +
            $"To search a plan that meets the budgets here, delete '{lockPath}' and build without locked mode, then commit the new lock; or relax the budget.");
    }

    /// <summary>
    /// MC5005: locked mode, and the locked plan gives a model whose hash (<paramref name="producedSha256"/>) is not the one the
    /// lock records, on the platform the lock was made on (or one it does not record).
    /// </summary>
    public static CompressionException DifferentModel(string modelFile, string lockPath, PlanLock locked, int index, string producedSha256)
    {
        const string passes = "the passes that compute with ONNX Runtime (constant folding, calibration, bias correction) gave other values";
        var runtime = PlanLock.CurrentOnnxRuntimeVersion;
        var cause = runtime != locked.OnnxRuntimeVersion
            ? $"ONNX Runtime changed from {locked.OnnxRuntimeVersion} to {runtime}, and the passes that compute with it (constant folding, calibration, bias correction) give other values"
            : locked.Platform is null
                ? $"{passes} here ({PlanLock.CurrentPlatform}); the lock does not say where it was made (an earlier version wrote it), " +
                  "and another platform's ONNX Runtime (an arm64 machine's for an x64 build) rounds otherwise"
                : $"{passes} on this machine, though the lock was made on this platform ({locked.Platform}), or the lock was edited";
        return new CompressionException(DiagnosticCode.LockedModelDiffers, modelFile,
            $"The locked plan ({locked.Result.Candidate}, 'plans[{index}]' of '{lockPath}') applied to '{modelFile}' gives a model with SHA-256 {producedSha256}, " +
            $"but the lock records {locked.CompressedModelSha256}: {cause}. Locked mode ({LockedModeSetting}) ships only the locked model. " +
            $"Delete '{lockPath}' and build without locked mode to plan and measure again here, then commit the new lock.");
    }

    private static string Ratio(double? ratio) => ratio is { } r ? r.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "slower than";
}
