using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>
/// A model's outputs on batches of samples, kept so that the next run of the same model on the same batch is answered
/// without running it: bias correction checks every candidate of a search against one reference on one set of samples,
/// split into the same batches. Batches are kept while the kept outputs fit in the budget; the others run the model.
/// </summary>
internal sealed class RecordedOutputs(long budgetBytes)
{
    private readonly Dictionary<(int Start, int Count), IReadOnlyDictionary<string, NdArray>> _batches = [];
    private readonly long _budgetBytes = budgetBytes;
    private long _bytes;

    /// <summary>Batches the model ran on.</summary>
    public int Ran { get; private set; }

    /// <summary>Batches answered from what was kept.</summary>
    public int Replayed { get; private set; }

    /// <summary>A runner that answers kept batches and runs the model <paramref name="open"/> opens (on the first batch not kept) for the others, keeping them.</summary>
    public Replay Over(Func<ModelProbe> open) => new(this, open);

    internal sealed class Replay(RecordedOutputs recorded, Func<ModelProbe> open) : IBatchRunner, IDisposable
    {
        private ModelProbe? _probe;

        public IReadOnlyDictionary<string, NdArray> Run(int start, int count, IReadOnlyDictionary<string, NdArray> feed)
        {
            lock (recorded._batches)
                if (recorded._batches.TryGetValue((start, count), out var kept))
                {
                    recorded.Replayed++;
                    return kept;
                }
            var outputs = (_probe ??= open()).Run(start, count, feed);
            var bytes = outputs.Values.Sum(v => v.Data.LongLength);
            lock (recorded._batches)
            {
                recorded.Ran++;
                if (recorded._bytes + bytes <= recorded._budgetBytes && recorded._batches.TryAdd((start, count), outputs)) recorded._bytes += bytes;
            }
            return outputs;
        }

        public void Dispose() => _probe?.Dispose();
    }
}
