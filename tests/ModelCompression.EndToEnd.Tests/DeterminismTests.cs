using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>The committed lock and the shipped model depend only on the inputs, never on the run or the machine's locale.</summary>
public sealed class DeterminismTests
{
    [Fact]
    public void Two_runs_on_the_same_inputs_give_a_byte_identical_lock_and_model()
    {
        using var first = WorkerFolder.OfSharedModel("digits-mlp");
        using var second = WorkerFolder.OfSharedModel("digits-mlp");
        const string quantization = "fusion;int8;int4;fp16";

        first.CompressWith(quantization).AssertSucceeded();
        second.CompressWith(quantization).AssertSucceeded();

        Assert.Equal(File.ReadAllBytes(first.OutputPath), File.ReadAllBytes(second.OutputPath));
        Assert.Equal(File.ReadAllText(first.LockPath), File.ReadAllText(second.LockPath));
        Assert.DoesNotContain("latencyRatio", File.ReadAllText(first.LockPath));
    }
}
