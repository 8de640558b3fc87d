namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// Values kept while they fit in a byte budget, the least recently used dropped first: what a search reuses across
/// candidates (factors of H, rounded layers) without holding every layer of a large model at once.
/// </summary>
internal sealed class BoundedCache(long capacityBytes)
{
    private readonly Dictionary<object, LinkedListNode<(object Key, object Value, long Bytes)>> _entries = [];
    private readonly LinkedList<(object Key, object Value, long Bytes)> _recent = new();
    private long _bytes;

    /// <summary>The cached value of <paramref name="key"/> (equal keys by value), else <paramref name="compute"/>'s, kept when it fits.</summary>
    public T GetOrAdd<T>(object key, Func<T> compute, Func<T, long> bytes) where T : class
    {
        lock (_entries)
        {
            if (_entries.TryGetValue(key, out var node))
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return (T)node.Value.Value;
            }
        }
        var value = compute(); // outside the lock: a factorization takes seconds
        var size = bytes(value);
        lock (_entries)
        {
            if (size > capacityBytes || _entries.ContainsKey(key)) return value;
            _entries[key] = _recent.AddFirst((key, value, size));
            _bytes += size;
            while (_bytes > capacityBytes && _recent.Last is { } oldest)
            {
                _recent.RemoveLast();
                _entries.Remove(oldest.Value.Key);
                _bytes -= oldest.Value.Bytes;
            }
        }
        return value;
    }
}
