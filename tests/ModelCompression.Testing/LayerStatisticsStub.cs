using ModelCompression.Core.LayerStatistics;

namespace ModelCompression.Testing;

/// <summary>Input moments by node name, set by a test (the collector's stand-in).</summary>
public sealed class LayerStatisticsStub(IReadOnlyDictionary<string, InputMoments> moments) : ILayerStatistics
{
    public InputMoments? For(string node) => moments.GetValueOrDefault(node);
}
