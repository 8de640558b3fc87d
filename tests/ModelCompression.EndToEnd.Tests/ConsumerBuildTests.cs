using ModelCompression.Core.Planning.Locking;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>A user's app with the packed package: what a build produces, and when it compresses again.</summary>
[RunsForMinutes]
public sealed class ConsumerBuildTests(PackedPackage package)
{
    private const string Model = "Models/digits-mlp.onnx";

    [Fact]
    public void Build_CompressesIntoObj_CopiesToBinAndPublish_AndPassesTheSidecarToTheCompiler()
    {
        using var app = NewApp();

        var build = app.Build().AssertSucceeded();

        Assert.True(build.Compressed(Model), build.ToString());
        var compressed = app.CompressionOutput(Model);
        var sidecar = compressed + ".mcsig";
        Assert.True(File.Exists(compressed), build.ToString());
        Assert.Equal(File.ReadAllBytes(compressed), File.ReadAllBytes(Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx")));
        var signature = File.ReadAllLines(sidecar);
        Assert.Contains("class\tDigitsMlp", signature);
        Assert.Contains($"namespace\t{ConsumerProject.Name}", signature);
        Assert.Contains($"model\t{Model}", signature);
        Assert.Contains($"/additionalfile:\"{sidecar}\"", build.Output);

        app.Dotnet("publish", app.ProjectFile, "--no-build", "-c", ConsumerProject.Configuration, "-o", app.PathOf("published")).AssertSucceeded();
        Assert.Equal(File.ReadAllBytes(compressed), File.ReadAllBytes(app.PathOf("published", "Models", "digits-mlp.onnx")));

        app.Dotnet("clean", app.ProjectFile).AssertSucceeded();
        Assert.False(File.Exists(compressed));
        Assert.False(File.Exists(sidecar));
        Assert.False(File.Exists(Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx")));
        Assert.True(File.Exists(app.PathOf("Models", "digits-mlp.onnx")), "clean must never delete the source model");
    }

    [Fact]
    public void SecondBuild_WithNothingChanged_SkipsCompression()
    {
        using var app = NewApp();
        app.Build().AssertSucceeded();
        var written = File.GetLastWriteTimeUtc(app.CompressionOutput(Model));

        var second = app.Build().AssertSucceeded();

        Assert.False(second.Compressed(Model), second.ToString());
        Assert.Contains("Skipping target \"_ModelCompressionCompress\" because all output files are up-to-date", second.Output);
        Assert.Equal(written, File.GetLastWriteTimeUtc(app.CompressionOutput(Model)));
    }

    [Fact]
    public void TouchingTheModelOrItsData_ReRunsCompression()
    {
        using var app = NewApp();
        app.Build().AssertSucceeded();

        Touch(app.PathOf("Models", "digits-mlp.onnx"));
        var afterModel = app.Build().AssertSucceeded();
        Touch(app.PathOf("Models", "digits-mlp.validation.npz"));
        var afterData = app.Build().AssertSucceeded();

        Assert.True(afterModel.Compressed(Model), afterModel.ToString());
        Assert.True(afterData.Compressed(Model), afterData.ToString());
    }

    [Fact]
    public void ChangingMetadataOrAProperty_ReRunsCompression_Once()
    {
        using var app = NewApp();
        app.Build().AssertSucceeded();

        app.WriteProject(ConsumerProject.DigitsItem.Replace("MaxAccuracyDrop=\"1%\"", "MaxAccuracyDrop=\"2%\"", StringComparison.Ordinal));
        var afterMetadata = app.Build().AssertSucceeded();
        var unchanged = app.Build().AssertSucceeded();
        var afterProperty = app.Build("-p:ModelCompressionMaxSearchTime=5m").AssertSucceeded();

        Assert.True(afterMetadata.Compressed(Model), afterMetadata.ToString());
        Assert.False(unchanged.Compressed(Model), unchanged.ToString());
        Assert.True(afterProperty.Compressed(Model), afterProperty.ToString());
        Assert.Contains("max-accuracy-drop=2%", File.ReadAllText(app.CompressionOutput(Model) + ".settings"));
    }

    /// <summary>
    /// A plan lock pulled from a teammate is an input: one build applies its plan, the next one skips again. A lock
    /// that changes elsewhere (another project's plan) or is only touched does not compress this model again.
    /// </summary>
    [Fact]
    public void NewPlanLock_ReRunsCompressionOnce()
    {
        using var app = NewApp();
        app.Build().AssertSucceeded();
        var lockFile = app.PathOf("Models", "digits-mlp.compression.lock.json");
        var ours = Assert.Single(PlanLockFile.Read(lockFile).Plans);

        Touch(lockFile);
        var afterTouch = app.Build().AssertSucceeded();
        var otherProject = ours with { Inputs = ours.Inputs with { Settings = ours.Inputs.Settings with { MaxAccuracyDrop = 0.05 } } };
        PlanLockFile.Write(lockFile, PlanLockSet.Of([ours, otherProject]));
        var afterOtherPlan = app.Build().AssertSucceeded();
        var teammates = ours with { Result = ours.Result with { Candidate = "the teammate's label" } };
        PlanLockFile.Write(lockFile, PlanLockSet.Of([teammates, otherProject]));
        var afterLock = app.Build().AssertSucceeded();
        var next = app.Build().AssertSucceeded();

        Assert.False(afterTouch.Compressed(Model), afterTouch.ToString());
        Assert.False(afterOtherPlan.Compressed(Model), afterOtherPlan.ToString());
        Assert.Contains($"--lock \"{lockFile}\"", afterLock.Output);
        Assert.True(afterLock.Compressed(Model), afterLock.ToString());
        Assert.Contains("applying the locked plan", afterLock.Output);
        Assert.False(next.Compressed(Model), next.ToString());
    }

    /// <summary>Deleting the lock asks for a new plan.</summary>
    [Fact]
    public void DeletedPlanLock_ReRunsCompression_AndWritesItAgain()
    {
        using var app = NewApp();
        app.Build().AssertSucceeded();
        var lockFile = app.PathOf("Models", "digits-mlp.compression.lock.json");

        File.Delete(lockFile);
        var afterDelete = app.Build().AssertSucceeded();

        Assert.True(afterDelete.Compressed(Model), afterDelete.ToString());
        Assert.True(File.Exists(lockFile));
        Assert.False(app.Build().AssertSucceeded().Compressed(Model));
    }

    [Fact]
    public void TwoModels_AreCompressedIndependently()
    {
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        File.Copy(app.PathOf("Models", "digits-mlp.onnx"), app.PathOf("Models", "digits-copy.onnx"));
        app.WriteProject(ConsumerProject.DigitsItem + """<CompressedModel Include="Models/digits-copy.onnx" />""");
        var first = app.Build().AssertSucceeded();

        Touch(app.PathOf("Models", "digits-copy.onnx"));
        var second = app.Build().AssertSucceeded();

        Assert.True(first.Compressed(Model) && first.Compressed("Models/digits-copy.onnx"), first.ToString());
        Assert.False(second.Compressed(Model), second.ToString());
        Assert.True(second.Compressed("Models/digits-copy.onnx"), second.ToString());
        Assert.Contains("class\tDigitsCopy", File.ReadAllLines(app.CompressionOutput("Models/digits-copy.onnx") + ".mcsig"));
    }

    [Fact]
    public void TwoItemsForTheSameAppPath_AreMC3001()
    {
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject("""
            <CompressedModel Include="Models/digits-mlp.onnx" Link="model.onnx" />
            <CompressedModel Include="Models/digits-mlp.validation.npz" Link="model.onnx" />
            """);

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC3001", error.Code);
        Assert.Contains("model.onnx", error.Message);
        Assert.False(build.Compressed("model.onnx"), build.ToString());
    }

    /// <summary>The switches reach the worker (what it does with them is the worker's tests' business).</summary>
    [Fact]
    public void ContinuousIntegrationBuild_TurnsOnLockedMode_AndMaxSearchTimeIsPassed()
    {
        using var app = NewApp();

        var ci = app.Build("-p:ContinuousIntegrationBuild=true", "-p:ModelCompressionMaxSearchTime=90s");
        var ciOptedOut = app.Build("-p:ContinuousIntegrationBuild=true", "-p:ModelCompressionLockedMode=false");

        Assert.Contains("--locked-mode", ci.Output);
        Assert.Contains("--max-search-time 90s", ci.Output);
        Assert.True(ciOptedOut.Compressed(Model), ciOptedOut.ToString());
        Assert.DoesNotContain("--locked-mode", ciOptedOut.Output);
    }

    [Fact]
    public void TruncatedModel_FailsWithMC1002_WithoutStackTraceOrOutputs()
    {
        using var app = NewApp();
        var model = app.PathOf("Models", "digits-mlp.onnx");
        var bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(model, bytes[..(bytes.Length / 2)]);

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC1002", error.Code);
        Assert.Equal(model, error.File);
        Assert.DoesNotContain("   at ", build.Output);
        Assert.DoesNotContain("Unhandled exception", build.Output);
        Assert.False(File.Exists(app.CompressionOutput(Model)));
        Assert.False(File.Exists(app.CompressionOutput(Model) + ".mcsig"));
        Assert.False(File.Exists(Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx")));
    }

    [Fact]
    public void DesignTimeBuild_NeverCompresses_ButGivesTheCompilerAnExistingSidecar()
    {
        using var app = NewApp();
        string[] designTime = ["-t:Compile", "-p:DesignTimeBuild=true", "-p:SkipCompilerExecution=true", "-p:ProvideCommandLineArgs=true"];

        var fresh = app.Dotnet(["msbuild", app.ProjectFile, "-restore", .. designTime]).AssertSucceeded();
        Assert.False(fresh.Compressed(Model), fresh.ToString());
        Assert.False(File.Exists(app.CompressionOutput(Model)));

        app.Build().AssertSucceeded();
        Touch(app.PathOf("Models", "digits-mlp.onnx"));
        var afterBuild = app.Dotnet(["msbuild", app.ProjectFile, .. designTime, "-getItem:AdditionalFiles"]).AssertSucceeded();

        Assert.False(afterBuild.Compressed(Model), afterBuild.ToString());
        Assert.Contains(app.CompressionOutput(Model) + ".mcsig", afterBuild.Output);
    }

    [Fact]
    public void CompressionDisabled_ShipsTheOriginalModel_AndStillWritesTheSidecar()
    {
        using var app = NewApp();

        var build = app.Build("-p:ModelCompressionEnabled=false").AssertSucceeded();

        Assert.False(build.Compressed(Model), build.ToString());
        Assert.False(File.Exists(app.CompressionOutput(Model)));
        Assert.Equal(File.ReadAllBytes(app.PathOf("Models", "digits-mlp.onnx")), File.ReadAllBytes(Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx")));
        Assert.Contains("class\tDigitsMlp", File.ReadAllLines(app.CompressionOutput(Model) + ".mcsig"));
    }

    [Fact]
    public void LinkedModelOutsideTheProject_GoesToItsLink_WithItsOwnClassAndNamespace()
    {
        using var app = new ConsumerProject(package);
        var shared = Path.Combine(app.Root, "shared");
        Directory.CreateDirectory(shared);
        File.Copy(Path.Combine(SharedModelsFolder(), "model.onnx"), Path.Combine(shared, "digits.onnx"));
        File.SetAttributes(Path.Combine(shared, "digits.onnx"), FileAttributes.Normal);
        app.WriteProject("""<CompressedModel Include="../shared/digits.onnx" Link="Assets/hand-written digits.onnx" Namespace="Consumer.Models" />""");

        var build = app.Build().AssertSucceeded();

        Assert.True(File.Exists(Path.Combine(app.OutputDirectory, "Assets", "hand-written digits.onnx")), build.ToString());
        var signature = File.ReadAllLines(app.CompressionOutput(Path.Combine("Assets", "hand-written digits.onnx")) + ".mcsig");
        Assert.Contains("class\tHandWrittenDigits", signature);
        Assert.Contains("namespace\tConsumer.Models", signature);
        Assert.Contains("model\tAssets/hand-written digits.onnx", signature);
    }

    private ConsumerProject NewApp()
    {
        var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject();
        return app;
    }

    private static string SharedModelsFolder() => ModelCompression.Testing.SharedModels.Folder("digits-mlp");

    // Now, as an editor saving the file would: later than anything the builds before wrote, earlier than what the next writes.
    private static void Touch(string path) => File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
}
