using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Planning;

/// <summary>A plan applied to the source model and measured.</summary>
/// <param name="Label">A short name for logs and reports, e.g. "int8".</param>
/// <param name="Score">The metric on the validation samples.</param>
/// <param name="SizeBytes">The size of the file the model makes.</param>
public sealed record Candidate(string Label, Plan Plan, ModelProto Model, double Score, long SizeBytes)
{
    /// <summary>How far the score fell below the original's (negative when it rose).</summary>
    public double Drop(double originalScore) => originalScore - Score;
}
