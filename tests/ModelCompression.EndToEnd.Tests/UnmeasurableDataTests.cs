using ModelCompression.Core.Tensors;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>Data that cannot tell a good model from a broken one fails the build instead of passing it.</summary>
public sealed class UnmeasurableDataTests
{
    [Fact]
    public void All_NaN_validation_inputs_are_MC2007()
    {
        using var folder = new WorkerFolder();
        var nan = new float[WorkerFolder.Samples * WorkerFolder.Features];
        Array.Fill(nan, float.NaN);
        folder.WriteValidation(NdArray.Create<float>([WorkerFolder.Samples, WorkerFolder.Features], nan));

        var run = folder.Compress().AssertFailsWith("MC2007");

        Assert.Contains("array 'x' holds a NaN or infinite value (sample 0", run.Output);
        Assert.False(File.Exists(folder.OutputPath));
    }

    [Fact]
    public void Inputs_that_make_the_original_compute_infinity_are_MC2007()
    {
        using var folder = new WorkerFolder();
        var huge = SyntheticInputs.Uniform([WorkerFolder.Samples, WorkerFolder.Features], seed: 3, low: 1e37f, high: 3e38f);
        folder.WriteValidation(huge);

        var run = folder.Compress().AssertFailsWith("MC2007");

        Assert.Contains("The original model", run.Output);
        Assert.Contains("in output 'y' for sample 0", run.Output);
    }

    /// <summary>One sample scores 1.0 for any model that gets it right: it cannot judge a 2-point budget.</summary>
    [Fact]
    public void One_validation_sample_is_MC2008_saying_how_many_the_budget_needs()
    {
        using var folder = new WorkerFolder();
        folder.WriteValidation(WorkerFolder.Inputs(1, seed: 11));

        var run = folder.Compress().AssertFailsWith("MC2008");

        Assert.Contains("holds 1 sample, so one of them changes accuracy by 100.00 pt, more than MaxAccuracyDrop (2.00 pt)", run.Output);
        Assert.Contains("at least 50 samples for this budget", run.Output);
        Assert.False(File.Exists(folder.OutputPath));
    }

    /// <summary>Lossless rewrites alone have no budget to judge (they are checked against the original on every sample).</summary>
    [Fact]
    public void One_sample_is_enough_when_only_lossless_rewrites_may_run()
    {
        using var folder = new WorkerFolder();
        folder.WriteValidation(WorkerFolder.Inputs(1, seed: 11));

        folder.CompressWith("fusion").AssertSucceeded();
    }

    [Fact]
    public void Enough_samples_for_the_budget_pass()
    {
        using var folder = new WorkerFolder();
        folder.WriteValidation(WorkerFolder.Inputs(50, seed: 11));

        folder.Compress().AssertSucceeded();
    }
}
