namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Values kept while they fit in a byte budget, the least recently used dropped first: what a search reuses across
/// candidates (factors of H, rounded layers) without holding every layer of a large model at once.
/// </summary>
/// <param name="keepsTheNewest">Keep the latest value even when it alone exceeds the budget (a value that is asked for again at once, such as a spectrum).</param>
internal sealed class BoundedCache(long capacityBytes, bool keepsTheNewest = false)
{
    private readonly Dictionary<object, LinkedListNode<(object Key, object Value, long Bytes)>> _entries = [];
    private readonly LinkedList<(object Key, object Value, long Bytes)> _recent = new();
    private readonly Dictionary<object, Lazy<object>> _computing = [];
    private long _bytes;

    /// <summary>
    /// The cached value of <paramref name="key"/> (equal keys by value), else <paramref name="compute"/>'s, kept when it
    /// fits. Callers asking for a key while it is computed wait for that result instead of computing it again.
    /// </summary>
    public T GetOrAdd<T>(object key, Func<T> compute, Func<T, long> bytes) where T : class
    {
        Lazy<object>? computing;
        lock (_entries)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return (T)node.Value.Value;
            }
            if (!_computing.TryGetValue(key, out computing))
                _computing[key] = computing = new Lazy<object>(() => compute(), LazyThreadSafetyMode.ExecutionAndPublication);
        }
        T value;
        try
        {
            value = (T)computing.Value; // outside the lock: a factorization takes seconds
        }
        catch
        {
            Forget(key, computing); // the next caller tries again
            throw;
        }
        var size = bytes(value);
        lock (_entries)
        {
            Forget(key, computing);
            if ((size > capacityBytes && !keepsTheNewest) || _entries.ContainsKey(key)) return value;
            _entries[key] = _recent.AddFirst((key, value, size));
            _bytes += size;
            while (_bytes > capacityBytes && _recent.Last is { } oldest && oldest != _recent.First)
            {
                _recent.RemoveLast();
                _entries.Remove(oldest.Value.Key);
                _bytes -= oldest.Value.Bytes;
            }
        }
        return value;
    }

    private void Forget(object key, Lazy<object> computing)
    {
        lock (_entries)
            if (_computing.TryGetValue(key, out var current) && current == computing) _computing.Remove(key);
    }
}
