using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>When the worker cannot run or crashes, the build says so with MC9002, once, not with MSBuild's generic errors.</summary>
public sealed class WorkerFailureTests(PackedPackage package)
{
    [Fact]
    public void MissingWorker_IsMC9002()
    {
        using var app = NewApp();
        var worker = Path.Combine(app.Root, "no-such-worker", "ModelCompression.Cli.dll");

        var build = app.Build($"-p:ModelCompressionWorkerPath={worker}").AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC9002", error.Code);
        Assert.Contains(worker, error.Message);
    }

    /// <summary>A "worker" that is not an app: the .NET host fails without a canonical error line.</summary>
    [Fact]
    public void WorkerExitingWithoutAnError_IsMC9002_WithItsExitCodeAndLastOutput()
    {
        using var app = NewApp();
        var notAnApp = Path.Combine(app.Root, "NotAnApp.dll");
        File.WriteAllBytes(notAnApp, package.ReadEntry("tasks/netstandard2.0/ModelCompression.Build.Tasks.dll"));

        var build = app.Build($"-p:ModelCompressionWorkerPath={notAnApp}").AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC9002", error.Code);
        Assert.Contains("exited with code", error.Message);
        Assert.DoesNotContain("MSB6006", build.Output);
    }

    private ConsumerProject NewApp()
    {
        var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject();
        return app;
    }
}
