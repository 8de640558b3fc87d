using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>A run that fails leaves nothing that the next build would take as its up-to-date result.</summary>
public sealed class FailedRunTests(PackedPackage package)
{
    /// <summary>The plan lock cannot be written (here a folder stands where the file goes): no model, no sidecar, no lock.</summary>
    [Fact]
    public void When_the_lock_cannot_be_written_the_worker_leaves_no_output()
    {
        using var folder = new WorkerFolder();
        Directory.CreateDirectory(folder.LockPath);

        var run = folder.Compress().AssertFailsWith("MC6001");

        Assert.Contains(folder.LockPath, run.Output);
        Assert.False(File.Exists(folder.OutputPath), run.ToString());
        Assert.False(File.Exists(folder.SignaturePath), run.ToString());
    }

    /// <summary>
    /// The same through MSBuild: a build that failed to write the lock must fail again on the next build, not skip
    /// compression as up to date and succeed with no lock.
    /// </summary>
    [Fact]
    public void After_a_build_that_could_not_write_the_lock_the_next_build_compresses_again()
    {
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject(ConsumerProject.DigitsItem.Replace("/>", "Techniques=\"fusion;int8\" />"));
        var lockPath = app.PathOf("Models", "digits-mlp.compression.lock.json");
        Directory.CreateDirectory(lockPath);

        var first = app.Build().AssertFailed();
        Assert.Equal("MC6001", Assert.Single(first.Errors).Code);
        var second = app.Build().AssertFailed();
        Assert.True(second.Compressed("Models/digits-mlp.onnx"), second.ToString());
        Assert.Equal("MC6001", Assert.Single(second.Errors).Code);

        Directory.Delete(lockPath);
        app.Build().AssertSucceeded();
        Assert.True(File.Exists(lockPath));
    }
}
