using ModelCompression.Core.Planning;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>The committed lock and the shipped model depend only on the inputs, never on the run or the machine's locale.</summary>
public sealed class DeterminismTests(ITestOutputHelper output)
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

    /// <summary>A whole default search, the measurements around it, and the slower run on a busy machine.</summary>
    private static readonly TimeSpan SearchTimeout = 2 * CompressionRequest.DefaultMaxSearchTime;

    /// <summary>
    /// The search's result must not depend on how fast the machine is at the time: a search bounded by the clock, or
    /// candidates ranked in the order their measurements finish, would give another plan when the CPU is shared.
    /// The second run competes with a busy process per core. Takes as long as two full fashion-cnn searches.
    /// </summary>
    [Fact]
    [Trait(TestTiers.Name, TestTiers.Slow)]
    public void Fashion_cnn_compressed_with_defaults_gives_the_same_model_and_lock_when_every_core_is_busy()
    {
        using var idle = WorkerFolder.OfSharedModel("fashion-cnn");
        using var loaded = WorkerFolder.OfSharedModel("fashion-cnn");

        var first = idle.CompressWithDefaults("1%", SearchTimeout).AssertSucceeded();
        output.WriteLine($"first run, no busy processes: {first.Command.Duration.TotalSeconds:0.0} s");
        WorkerResult second;
        using (BusyProcesses.OnePerCore())
            second = loaded.CompressWithDefaults("1%", SearchTimeout).AssertSucceeded();
        output.WriteLine($"second run, a busy process per core: {second.Command.Duration.TotalSeconds:0.0} s");
        output.WriteLine(Chosen(first));
        output.WriteLine(Chosen(second));

        Assert.Equal(File.ReadAllText(idle.LockPath), File.ReadAllText(loaded.LockPath));
        Assert.True(File.ReadAllBytes(idle.OutputPath).AsSpan().SequenceEqual(File.ReadAllBytes(loaded.OutputPath)),
            $"The models differ.{Environment.NewLine}{first.Output}{Environment.NewLine}{second.Output}");
    }

    private static string Chosen(WorkerResult run) =>
        run.Output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Contains(": chose ", StringComparison.Ordinal)) ?? "(no 'chose' line)";
}
