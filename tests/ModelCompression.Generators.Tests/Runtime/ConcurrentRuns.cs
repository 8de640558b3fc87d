using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>Runs a model from many threads at once and checks every output against a single-threaded run, bit for bit.</summary>
internal static class ConcurrentRuns
{
    /// <param name="inputs">Thread t runs inputs[t * perThread .. (t + 1) * perThread) in turn, so no two threads share an input.</param>
    /// <param name="run">Runs one input into the output buffer (rent, copy in, run, copy out, return).</param>
    public static void AssertSameAsSingleThreaded(int threads, int runsPerThread, float[][] inputs, int outputLength, Action<float[], float[]> run)
    {
        var expected = inputs.Select(input =>
        {
            var output = new float[outputLength];
            run(input, output);
            return output;
        }).ToArray();
        var perThread = inputs.Length / threads;
        var failures = new ConcurrentQueue<string>();
        using var start = new Barrier(threads);

        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var output = new float[outputLength];
            start.SignalAndWait();
            try
            {
                for (var i = 0; i < runsPerThread; i++)
                {
                    var sample = t * perThread + i % perThread;
                    run(inputs[sample], output);
                    if (!MemoryMarshal.AsBytes(output.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(expected[sample].AsSpan())))
                        failures.Enqueue($"thread {t}, run {i}: the output of sample {sample} differs from the single-threaded run");
                }
            }
            catch (Exception e)
            {
                failures.Enqueue($"thread {t}: {e}");
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        Assert.Empty(failures.Take(10));
    }
}
