using ModelCompression.Core.Data;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>The plan lock as a team uses it: committed beside the model, reproduced on other clones, enforced in CI.</summary>
public sealed class PlanLockTests(PackedPackage package)
{
    private const string Model = "Models/digits-mlp.onnx";
    private const string LockFile = "digits-mlp.compression.lock.json";
    private const string CiBuild = "-p:ContinuousIntegrationBuild=true";

    [Fact]
    public void A_clean_clone_with_the_committed_lock_builds_a_byte_identical_model_in_CI()
    {
        using var first = NewApp();
        var search = first.Build().AssertSucceeded();
        Assert.Contains("candidate 1", search.Output); // the search reports progress at normal verbosity
        var lockFile = first.PathOf("Models", LockFile);
        Assert.True(File.Exists(lockFile), "the build writes the plan lock beside the model");

        using var second = NewApp();
        File.Copy(lockFile, second.PathOf("Models", LockFile));
        var locked = second.Build(CiBuild).AssertSucceeded();

        Assert.Equal(File.ReadAllBytes(first.CompressionOutput(Model)), File.ReadAllBytes(second.CompressionOutput(Model)));
        Assert.Equal(File.ReadAllText(lockFile), File.ReadAllText(second.PathOf("Models", LockFile)));
        Assert.Equal(PlanSource.Lock, ReadReport(second).PlanSource);
        Assert.DoesNotContain("candidate 2", locked.Output);
    }

    [Fact]
    public void CI_without_a_lock_fails_with_MC5001()
    {
        using var app = NewApp();

        var build = app.Build(CiBuild).AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC5001", error.Code);
        Assert.Contains(LockFile, error.Message);
        Assert.False(File.Exists(app.PathOf("Models", LockFile)), "locked mode never writes a lock");
    }

    [Fact]
    public void Edited_validation_data_fails_the_CI_build_with_MC5002_and_a_normal_build_plans_again()
    {
        using var app = NewApp();
        app.Build().AssertSucceeded();
        var data = app.PathOf("Models", "digits-mlp.validation.npz");
        NdArray input, labels;
        using (var archive = NpzArchive.Open(data, DataSetting.ValidationData))
            (input, labels) = (archive.Read("input"), archive.Read("labels"));
        NpzArchive.Write(data, [new("input", input.Slice(0, 500)), new("labels", labels.Slice(0, 500))]);

        var ci = app.Build(CiBuild).AssertFailed();
        var error = Assert.Single(ci.Errors);
        Assert.Equal("MC5002", error.Code);
        Assert.Contains("the validation data changed", error.Message);

        app.Build().AssertSucceeded();
        var report = ReadReport(app);
        Assert.Equal(PlanSource.Search, report.PlanSource);
        Assert.Contains("the validation data changed", report.StaleLockReasons);
        Assert.Equal(500, report.ValidationSamples);
        app.Build(CiBuild, "--no-incremental").AssertSucceeded(); // the re-planned lock is current
    }

    private ConsumerProject NewApp()
    {
        var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject();
        return app;
    }

    private static CompressionReport ReadReport(ConsumerProject app) =>
        ReportWriter.FromJson(File.ReadAllText(Path.Combine(app.CompressionOutput(Model) + ".report", "digits-mlp.report.json")));
}
