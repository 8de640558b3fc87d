using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Planning;

/// <summary>How a candidate is scored; every metric is a score in [0, 1] where 1 is perfect.</summary>
public enum MetricKind
{
    /// <summary>Top-1 accuracy of the first output against the <c>labels</c> array.</summary>
    Accuracy,
    /// <summary>Top-1 agreement with the original model along the last axis, over every position and output.</summary>
    Agreement,
    /// <summary>Mean cosine similarity to the original model's outputs.</summary>
    Cosine,
    /// <summary>1 − MSE / variance of the original model's outputs.</summary>
    Mse,
}

public static class MetricKinds
{
    public static MetricKind Parse(string value, string? file) => value.Trim().ToLowerInvariant() switch
    {
        "accuracy" => MetricKind.Accuracy,
        "agreement" => MetricKind.Agreement,
        "cosine" => MetricKind.Cosine,
        "mse" => MetricKind.Mse,
        _ => throw new CompressionException(DiagnosticCode.InvalidSetting, file,
            $"Metric=\"{value}\" is not valid: write accuracy, agreement, cosine or mse."),
    };

    public static string Name(MetricKind metric) => metric.ToString().ToLowerInvariant();
}
