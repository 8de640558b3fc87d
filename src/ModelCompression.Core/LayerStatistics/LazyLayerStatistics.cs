namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// Layer statistics collected (or read from the cache) the first time a layer's moments are asked for: a locked plan
/// without data-aware rounding never pays for them.
/// </summary>
public sealed class LazyLayerStatistics(Func<LayerInputStatistics> collect) : ILayerStatistics
{
    private readonly Lazy<LayerInputStatistics> _statistics = new(collect);

    public LayerInputStatistics Value => _statistics.Value;

    public InputMoments? For(string node) => _statistics.Value.For(node);
}
