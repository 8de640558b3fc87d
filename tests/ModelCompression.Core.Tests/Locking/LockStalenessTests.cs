using System.IO.Compression;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Tests.Locking;

public class LockStalenessTests
{
    private static PlanLock LockFor(LockInputs inputs) =>
        new(inputs, "1.31.1", Plan.Empty.Then(new PassStep(PassCatalog.Lossless)), new LockedResult("lossless", null, 1, 1, 100, 100), new string('0', 64));

    [Fact]
    public void Unchanged_inputs_keep_the_lock_current()
    {
        using var fixture = new LockFixture();
        var locked = LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy));

        var status = locked.Compare(LockInputs.Of(fixture.Request, MetricKind.Accuracy));

        Assert.Equal(LockState.Current, status.State);
        Assert.True(status.IsCurrent);
        Assert.Empty(status.Reasons);
    }

    public static TheoryData<string, string> Changes() => new()
    {
        { "model", "the model changed" },
        { "validation", "the validation data changed" },
        { "calibration", "the calibration data changed" },
        { "no calibration", "CalibrationData is no longer set" },
        { "no validation", "ValidationData is no longer set" },
        { "metric", "Metric changed from accuracy to agreement" },
        { "techniques", "Techniques changed from fusion;int8;int4 to fusion;int8" },
        { "drop", "MaxAccuracyDrop changed from 1% to 0.5%" },
        { "size", "MaxSize changed from 400 KB to 1.5 MB" },
        { "no size", "MaxSize changed from 400 KB to none" },
        { "latency", "MaxLatency changed from none to 2 ms" },
        { "tool", "the tool version changed from 0.1.0 to 0.2.0" },
    };

    [Theory]
    [MemberData(nameof(Changes))]
    public void Each_change_of_the_inputs_makes_the_lock_stale_with_its_reason(string change, string reason)
    {
        using var fixture = new LockFixture();
        var locked = LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy, toolVersion: "0.1.0"));
        var request = fixture.Request;
        var metric = MetricKind.Accuracy;
        var tool = "0.1.0";
        switch (change)
        {
            case "model": OnnxModelFile.Save(LockFixture.Model(scale: 2f), fixture.ModelPath); break;
            case "validation": LockFixture.WriteData(fixture.ValidationPath, seed: 5); break;
            case "calibration": LockFixture.WriteData(fixture.CalibrationPath, seed: 5); break;
            case "no calibration": request = request with { CalibrationDataPath = null }; break;
            case "no validation": request = request with { ValidationDataPath = null }; break;
            case "metric": metric = MetricKind.Agreement; break;
            case "techniques": request = request with { Techniques = Technique.Fusion | Technique.Int8 }; break;
            case "drop": request = request with { Budgets = request.Budgets with { MaxAccuracyDrop = Quantity.ParsePercent("0.5%", "MaxAccuracyDrop", null) } }; break;
            case "size": request = request with { Budgets = request.Budgets with { MaxSizeBytes = Quantity.ParseSize("1.5MB", "MaxSize", null) } }; break;
            case "no size": request = request with { Budgets = request.Budgets with { MaxSizeBytes = null } }; break;
            case "latency": request = request with { Budgets = request.Budgets with { MaxLatency = TimeSpan.FromMilliseconds(2) } }; break;
            case "tool": tool = "0.2.0"; break;
        }

        var status = locked.Compare(LockInputs.Of(request, metric, tool));

        Assert.Equal(LockState.Stale, status.State);
        Assert.Equal([reason], status.Reasons);
    }

    [Fact]
    public void Several_changes_are_all_named()
    {
        using var fixture = new LockFixture();
        var locked = LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy, "0.1.0"));
        LockFixture.WriteData(fixture.ValidationPath, seed: 9);

        var status = locked.Compare(LockInputs.Of(fixture.Request with { Budgets = new Budgets(0.02, null, null) }, MetricKind.Accuracy, "0.1.0"));

        Assert.Equal(["the validation data changed", "MaxAccuracyDrop changed from 1% to 2%", "MaxSize changed from 400 KB to none"], status.Reasons);
    }

    [Fact]
    public void The_search_time_and_paths_are_not_part_of_the_fingerprint()
    {
        using var fixture = new LockFixture();
        var locked = LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy));
        // The same files, copied elsewhere (another clone), with another search time and output.
        var clone = fixture.Combine("clone");
        Directory.CreateDirectory(clone);
        foreach (var file in new[] { fixture.ModelPath, fixture.ValidationPath, fixture.CalibrationPath })
            File.Copy(file, Path.Combine(clone, Path.GetFileName(file)));
        var request = fixture.Request with
        {
            ModelPath = Path.Combine(clone, "model.onnx"),
            ValidationDataPath = Path.Combine(clone, "validation.npz"),
            CalibrationDataPath = Path.Combine(clone, "calibration.npz"),
            OutputPath = Path.Combine(clone, "bin", "model.onnx"),
            MaxSearchTime = TimeSpan.FromMinutes(1),
        };

        Assert.True(locked.Compare(LockInputs.Of(request, MetricKind.Accuracy)).IsCurrent);
    }

    [Fact]
    public void An_npz_saved_again_with_the_same_arrays_but_other_zip_timestamps_is_not_stale()
    {
        using var fixture = new LockFixture();
        var arrays = LockFixture.Arrays(seed: 1);
        LockFixture.WriteZip(fixture.ValidationPath, arrays, new DateTimeOffset(2024, 1, 2, 3, 4, 6, TimeSpan.Zero), CompressionLevel.Optimal);
        var before = File.ReadAllBytes(fixture.ValidationPath);
        var locked = LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy));

        // np.savez run a year later, stored instead of deflated, arrays in the other order.
        File.Delete(fixture.ValidationPath);
        LockFixture.WriteZip(fixture.ValidationPath, arrays.Reverse(), new DateTimeOffset(2025, 6, 7, 8, 9, 10, TimeSpan.Zero), CompressionLevel.NoCompression);

        Assert.NotEqual(before, File.ReadAllBytes(fixture.ValidationPath));
        Assert.True(locked.Compare(LockInputs.Of(fixture.Request, MetricKind.Accuracy)).IsCurrent);
    }

    [Fact]
    public void The_data_fingerprint_sees_every_value_name_type_and_shape()
    {
        using var fixture = new LockFixture();
        var path = fixture.Combine("data.npz");
        var arrays = LockFixture.Arrays(seed: 1);
        string HashOf(Dictionary<string, NdArray> content)
        {
            NpzArchive.Write(path, content);
            return ContentHash.OfNpzContent(path, DataSetting.ValidationData);
        }
        var original = HashOf(arrays);
        var x = arrays["x"];

        var oneValue = x.Data.ToArray();
        oneValue[^1] ^= 1; // the last bit of the last float
        var variants = new[]
        {
            new Dictionary<string, NdArray>(arrays) { ["x"] = new NdArray(x.ElementType, x.Shape, oneValue) },
            new Dictionary<string, NdArray> { ["input"] = x, ["labels"] = arrays["labels"] },
            new Dictionary<string, NdArray>(arrays) { ["x"] = new NdArray(DataType.Int32, x.Shape, x.Data) },
            new Dictionary<string, NdArray>(arrays) { ["x"] = x.Reshape([x.Shape[0] * 2, x.Shape[1] / 2]) },
            new Dictionary<string, NdArray> { ["x"] = x },
        };

        Assert.Equal(original, HashOf(arrays));
        Assert.All(variants, v => Assert.NotEqual(original, HashOf(v)));
        Assert.Equal(variants.Length, variants.Select(HashOf).Distinct().Count());
    }

    [Fact]
    public void A_lock_holds_a_plan_per_settings_and_finds_the_one_for_these()
    {
        using var fixture = new LockFixture();
        var strict = LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy));
        var loose = LockFor(LockInputs.Of(fixture.Request with { Budgets = new Budgets(0.05, null, null) }, MetricKind.Accuracy));
        var locks = PlanLockSet.Of([strict, loose]);

        Assert.Same(loose, locks.StatusFor(loose.Inputs).Plan);
        Assert.Same(strict, locks.StatusFor(strict.Inputs).Plan);
        Assert.Equal(LockState.Missing, PlanLockSet.Empty.StatusFor(strict.Inputs).State);
    }

    [Fact]
    public void Settings_without_a_plan_are_stale_naming_the_nearest_plan_s_differences()
    {
        using var fixture = new LockFixture();
        var locks = PlanLockSet.Of([
            LockFor(LockInputs.Of(fixture.Request, MetricKind.Accuracy)),
            LockFor(LockInputs.Of(fixture.Request with { Techniques = Technique.Fusion, Budgets = new Budgets(0.05, null, null) }, MetricKind.Agreement)),
        ]);

        var status = locks.StatusFor(LockInputs.Of(fixture.Request with { Budgets = new Budgets(0.02, 400 * 1024, null) }, MetricKind.Accuracy));

        Assert.Equal(LockState.Stale, status.State);
        Assert.Null(status.Plan);
        Assert.Equal(["it holds no plan for these settings (the nearest: MaxAccuracyDrop changed from 1% to 2%)"], status.Reasons);
    }

    [Fact]
    public void Data_files_are_part_of_the_settings_by_their_path_from_the_lock()
    {
        using var fixture = new LockFixture();
        var other = fixture.Combine("other.npz");
        File.Copy(fixture.ValidationPath, other);

        var settings = LockInputs.Of(fixture.Request, MetricKind.Accuracy).Settings;
        var otherSettings = LockInputs.Of(fixture.Request with { ValidationDataPath = other }, MetricKind.Accuracy).Settings;

        Assert.Equal(("validation.npz", "calibration.npz"), (settings.ValidationData, settings.CalibrationData));
        Assert.Equal("other.npz", otherSettings.ValidationData);
        Assert.NotEqual(settings.Key, otherSettings.Key);
        Assert.Equal(["ValidationData changed from validation.npz to other.npz"], otherSettings.ChangesFrom(settings));
    }

    [Fact]
    public void A_change_in_a_model_external_data_file_changes_the_model_fingerprint()
    {
        using var fixture = new LockFixture();
        var path = fixture.Combine("external.onnx");
        OnnxModelFile.SaveWithExternalData(LockFixture.Model(), path, "external.onnx.data");
        var before = ContentHash.OfModelFile(path);
        var modelBytes = File.ReadAllBytes(path);

        OnnxModelFile.SaveWithExternalData(LockFixture.Model(scale: 3f), path, "external.onnx.data");

        Assert.Equal(modelBytes, File.ReadAllBytes(path)); // the .onnx itself is unchanged
        Assert.NotEqual(before, ContentHash.OfModelFile(path));
    }
}
