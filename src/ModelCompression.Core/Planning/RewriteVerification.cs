using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Checks with ONNX Runtime that a rewrite meant to be lossless computes what the original does on
/// real samples. Tolerance 1e-5 + 1e-4·|original|: above the float reassociation a fold or fusion
/// causes (≈1e-6 measured on ppocr's folded BatchNorms), far below what a wrong rewrite causes.
/// </summary>
public static class RewriteVerification
{
    /// <returns>null when the outputs match; otherwise where they first differ.</returns>
    public static string? FirstMismatch(ModelProto original, ModelProto rewritten, SampleSet samples, int maxSamples = 16)
    {
        using var before = new ModelRunner(original);
        using var after = new ModelRunner(rewritten);
        var checkedSamples = samples.Spread(Math.Min(maxSamples, samples.Count));
        for (var i = 0; i < checkedSamples.Count; i++)
        {
            var feed = checkedSamples.Sample(i);
            var expected = before.Run(feed);
            var actual = after.Run(feed);
            foreach (var (name, value) in expected)
            {
                if (!actual.TryGetValue(name, out var other) || !other.Shape.SequenceEqual(value.Shape))
                    return $"output '{name}' of sample {checkedSamples.SourceIndex(i)} has another shape";
                if (value.Strings is not null) continue;
                var a = value.ToFloats();
                var b = other.ToFloats();
                for (var k = 0; k < a.Length; k++)
                {
                    var same = a[k] == b[k] || (float.IsNaN(a[k]) && float.IsNaN(b[k])) || Math.Abs(a[k] - b[k]) <= 1e-5 + 1e-4 * Math.Abs(a[k]);
                    if (!same) return $"output '{name}' of sample {checkedSamples.SourceIndex(i)} differs at element {k}: {a[k]} vs {b[k]}";
                }
            }
        }
        return null;
    }
}
