using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;

namespace ModelCompression.Core.Tests.Locking;

public class LockErrorsTests
{
    private const string Model = "Models/fashion-cnn.onnx", LockPath = "Models/fashion-cnn.compression.lock.json";

    private static PlanLock Locked(string runtime) => new(
        new LockInputs("0.1.0", new string('a', 64), new string('b', 64), null, new LockSettings("accuracy", "int8;int4", 0.01, null, null)),
        runtime, Plan.Empty, new LockedResult("int4+int8", 0.9125, 0.9087, 0.9175, 626_688, 3_484_613), new string('c', 64));

    [Fact]
    public void A_missing_lock_in_locked_mode_is_MC5001_saying_how_to_create_it()
    {
        var e = LockErrors.Missing(Model, LockPath);

        Assert.Equal(DiagnosticCode.LockMissing, e.Code);
        Assert.Equal(Model, e.File);
        Assert.Contains($"the plan lock '{LockPath}' does not exist", e.Message);
        Assert.Contains("Run a build without ModelCompressionLockedMode (or ContinuousIntegrationBuild) to create it, and commit it.", e.Message);
    }

    [Fact]
    public void A_stale_lock_in_locked_mode_is_MC5002_listing_every_reason()
    {
        var status = new LockStatus(LockState.Stale, ["the validation data changed", "MaxAccuracyDrop changed from 1% to 0.5%"]);

        var e = LockErrors.Stale(LockPath, status);

        Assert.Equal(DiagnosticCode.LockStale, e.Code);
        Assert.Equal(LockPath, e.File);
        Assert.StartsWith($"The plan lock '{LockPath}' is stale: the validation data changed; MaxAccuracyDrop changed from 1% to 0.5%. ", e.Message);
        Assert.Contains("Run a build without locked mode to search a new plan and update the lock, then commit it.", e.Message);
    }

    [Fact]
    public void A_locked_plan_within_its_budgets_is_no_error()
    {
        var now = new LockedPlanMeasurement(OriginalScore: 0.9175, Score: 0.9076, SizeBytes: 626_688);

        Assert.Null(LockErrors.Regression(Model, LockPath, Locked(PlanLock.CurrentOnnxRuntimeVersion), now, new Budgets(0.01, 700_000, null)));
    }

    [Fact]
    public void A_locked_plan_that_regressed_after_a_runtime_upgrade_is_MC5003_with_measured_against_allowed()
    {
        var now = new LockedPlanMeasurement(OriginalScore: 0.9175, Score: 0.9012, SizeBytes: 626_688);

        var error = LockErrors.Regression(Model, LockPath, Locked("1.20.0"), now, Budgets.Default);

        Assert.NotNull(error);
        Assert.Equal(DiagnosticCode.LockedPlanRegressed, error.Code);
        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
        Assert.Equal(Model, error.File);
        Assert.StartsWith("The locked plan (int4+int8), applied again, no longer meets its budgets: " +
                          "accuracy 0.9012 against the original's 0.9175, a drop of +1.63 pt where MaxAccuracyDrop allows +1.00 pt. " +
                          "When it was locked it scored 0.9087 against the original's 0.9175, at 612 KB. " +
                          $"ONNX Runtime changed from 1.20.0 to {PlanLock.CurrentOnnxRuntimeVersion} since then", error.Message);
        Assert.EndsWith($"delete '{LockPath}' and build without locked mode, then commit the new lock; or relax the budget.", error.Message);
    }

    [Fact]
    public void Every_broken_budget_is_named()
    {
        var now = new LockedPlanMeasurement(0.9175, 0.8, 900_000, MeetsLatency: false, LatencyRatio: 1.4, Latency: TimeSpan.FromMilliseconds(2.5));

        var message = LockErrors.Regression(Model, LockPath, Locked(PlanLock.CurrentOnnxRuntimeVersion), now,
            new Budgets(0.01, 800_000, TimeSpan.FromMilliseconds(2)))!.Message;

        Assert.Contains("a drop of +11.75 pt where MaxAccuracyDrop allows +1.00 pt", message);
        Assert.Contains("878.9 KB (900000 bytes) where MaxSize allows 781.3 KB (800000 bytes)", message);
        Assert.Contains("a median latency of 2.5 ms where MaxLatency allows 2 ms", message);
        Assert.Contains($"ONNX Runtime is the same version ({PlanLock.CurrentOnnxRuntimeVersion})", message);

        var slower = LockErrors.Regression(Model, LockPath, Locked("1.31.1"), new LockedPlanMeasurement(0.9175, 0.91, 600_000, MeetsLatency: false, LatencyRatio: 1.18), Budgets.Default)!;
        Assert.Contains("no longer meets its budgets: 1.18× the original's latency where, without MaxLatency, it must not be slower than the original.", slower.Message);
    }
}
