namespace ModelCompression.Core.LayerStatistics;

/// <summary>The input moments of a model's layers, as collected or read from the cache.</summary>
public sealed class LayerInputStatistics : ILayerStatistics
{
    private readonly IReadOnlyDictionary<string, InputMoments> _moments;

    public LayerInputStatistics(IReadOnlyDictionary<string, InputMoments> moments, int samples, bool fromCache)
    {
        _moments = moments;
        Samples = samples;
        FromCache = fromCache;
        Bytes = moments.Values.Sum(m => 4L * m.Matrix.Length);
    }

    /// <summary>The layers that have moments.</summary>
    public int Count => _moments.Count;

    /// <summary>The nodes that have moments, in ordinal order.</summary>
    public IReadOnlyList<string> Nodes => _moments.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>The calibration samples the moments were collected on.</summary>
    public int Samples { get; }

    /// <summary>The memory the matrices hold: Σ Groups·Dimension²·4 bytes.</summary>
    public long Bytes { get; }

    /// <summary>Read from the cache directory: no model was run.</summary>
    public bool FromCache { get; }

    public InputMoments? For(string node) => _moments.GetValueOrDefault(node);
}
