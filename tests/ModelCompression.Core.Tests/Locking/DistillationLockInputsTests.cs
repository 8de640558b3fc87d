using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;

namespace ModelCompression.Core.Tests.Locking;

/// <summary>The training data is a lock input only when the plan may distil; the locks of every other project read and compare as before.</summary>
public class DistillationLockInputsTests
{
    private static PlanLock LockFor(LockInputs inputs) =>
        new(inputs, "1.31.1", Plan.Empty.Then(new PassStep(PassCatalog.Lossless)), new LockedResult("lossless", null, 1, 1, 100, 100), new string('0', 64));

    private static CompressionRequest Distilling(LockFixture fixture) => fixture.Request with
    {
        Techniques = Technique.All,
        TrainingDataPath = fixture.Combine("train.npz"),
        DistillationPluginPath = fixture.Combine("ModelCompression.Distillation.dll"),
    };

    [Fact]
    public void Without_the_plugin_or_the_distill_technique_the_training_data_is_no_input_and_the_json_is_unchanged()
    {
        using var fixture = new LockFixture();
        LockFixture.WriteData(fixture.Combine("train.npz"), seed: 3);
        var plain = LockInputs.Of(fixture.Request, MetricKind.Accuracy, "0.1.0");
        var withTrainingOnly = LockInputs.Of(fixture.Request with { TrainingDataPath = fixture.Combine("train.npz") }, MetricKind.Accuracy, "0.1.0");
        var noPlugin = LockInputs.Of(Distilling(fixture) with { DistillationPluginPath = null }, MetricKind.Accuracy, "0.1.0");

        Assert.Null(withTrainingOnly.TrainingDataSha256);
        Assert.Null(noPlugin.TrainingDataSha256);
        Assert.Null(noPlugin.Settings.TrainingData);
        Assert.Equal(plain, withTrainingOnly);
        var json = PlanLockFile.ToJson(PlanLockSet.Of([LockFor(plain)]));
        Assert.DoesNotContain("training", json, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(LockState.Current, PlanLockFile.Parse(json, "model.compression.lock.json").StatusFor(withTrainingOnly).State);
    }

    [Fact]
    public void A_plan_that_may_distil_records_the_training_data_round_trips_and_goes_stale_when_it_changes()
    {
        using var fixture = new LockFixture();
        LockFixture.WriteData(fixture.Combine("train.npz"), seed: 3);
        var inputs = LockInputs.Of(Distilling(fixture), MetricKind.Accuracy, "0.1.0");

        Assert.Equal("train.npz", inputs.Settings.TrainingData);
        Assert.Matches("^[0-9a-f]{64}$", inputs.TrainingDataSha256!);
        var read = PlanLockFile.Parse(PlanLockFile.ToJson(PlanLockSet.Of([LockFor(inputs)])), "model.compression.lock.json");
        Assert.Equal(inputs, Assert.Single(read.Plans).Inputs);

        LockFixture.WriteData(fixture.Combine("train.npz"), seed: 4);
        var status = read.StatusFor(LockInputs.Of(Distilling(fixture), MetricKind.Accuracy, "0.1.0"));

        Assert.Equal(LockState.Stale, status.State);
        Assert.Equal(["the training data changed"], status.Reasons);
    }

    [Fact]
    public void Installing_the_distillation_package_makes_the_lock_of_a_model_that_may_now_distil_stale_with_that_reason()
    {
        using var fixture = new LockFixture();
        LockFixture.WriteData(fixture.Combine("train.npz"), seed: 3);
        var before = Distilling(fixture) with { DistillationPluginPath = null };
        var locked = LockFor(LockInputs.Of(before, MetricKind.Accuracy, "0.1.0"));

        var status = locked.Compare(LockInputs.Of(Distilling(fixture), MetricKind.Accuracy, "0.1.0"));

        Assert.Equal(LockState.Stale, status.State);
        Assert.Contains(status.Reasons, r => r.StartsWith("distillation is now possible", StringComparison.Ordinal));
    }

    [Fact]
    public void Separate_calibration_data_is_the_default_training_data_the_validation_data_never_is()
    {
        using var fixture = new LockFixture();
        var request = Distilling(fixture) with { TrainingDataPath = null };

        Assert.Equal(fixture.CalibrationPath, request.EffectiveTrainingDataPath);
        Assert.True(request.CanDistill);
        Assert.Equal("calibration.npz", LockInputs.Of(request, MetricKind.Accuracy, "0.1.0").Settings.TrainingData);

        var noCalibration = request with { CalibrationDataPath = null };
        Assert.Null(noCalibration.EffectiveTrainingDataPath);
        Assert.False(noCalibration.CanDistill);
    }
}
