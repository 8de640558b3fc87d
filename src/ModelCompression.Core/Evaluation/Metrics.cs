using ModelCompression.Core.Data;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Evaluation;

public static class Metrics
{
    /// <summary>The metric when the item sets none: accuracy when the data has labels, else agreement with the original.</summary>
    public static MetricKind DefaultFor(SampleSet samples) => samples.HasLabels ? MetricKind.Accuracy : MetricKind.Agreement;
}
