using ModelCompression.Core.Planning;

namespace ModelCompression.Benchmarks;

/// <summary>The shared models and the metric each is judged by (the ones without labels by agreement with the original).</summary>
public sealed record BenchmarkModel(string Folder, MetricKind Metric);

public static class BenchmarkModels
{
    public static IReadOnlyList<BenchmarkModel> All { get; } =
    [
        new("digits-mlp", MetricKind.Accuracy),
        new("fashion-cnn", MetricKind.Accuracy),
        new("ppocr-cls", MetricKind.Accuracy),
        new("ppocr-rec", MetricKind.Agreement),
        new("silero-vad", MetricKind.Cosine),
    ];
}
