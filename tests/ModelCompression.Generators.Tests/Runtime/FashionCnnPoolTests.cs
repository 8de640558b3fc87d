using ModelCompression.Core.Data;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>The pool the generator wrote for fashion-cnn (Runtime/FashionCnn.mcsig), on the real model of ../shared.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class FashionCnnPoolTests
{
    [Fact]
    public void Eight_threads_times_10000_runs_through_the_pool_equal_single_threaded_runs()
    {
        var folder = SharedModels.Folder("fashion-cnn");
        const int Threads = 8, SamplesPerThread = 50;
        float[][] inputs;
        using (var validation = NpzArchive.Open(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData))
        {
            var images = validation.Read("input");
            inputs = new float[Threads * SamplesPerThread][];
            for (var i = 0; i < inputs.Length; i++)
                inputs[i] = images.AsSpan<float>().Slice(i * FashionCnn.InputLength, FashionCnn.InputLength).ToArray();
        }
        using var pool = new FashionCnnPool(Path.Combine(folder, "model.onnx"), capacity: Threads);

        ConcurrentRuns.AssertSameAsSingleThreaded(Threads, runsPerThread: 10_000, inputs, FashionCnn.LogitsLength, (input, output) =>
        {
            using var lease = pool.Rent(TestContext.Current.CancellationToken);
            input.CopyTo(lease.Model.Input);
            lease.Model.Run();
            lease.Model.Logits.CopyTo(output);
        });
    }
}
