using ModelCompression.Core.Data;

namespace ModelCompression.Core.Passes;

/// <summary>What a pass may need besides the model: the calibration samples (static quantization).</summary>
public sealed record PassContext(SampleSet? Calibration)
{
    public static PassContext None { get; } = new((SampleSet?)null);
}
