using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Checks with ONNX Runtime that a rewrite meant to be lossless computes what the original does on
/// real samples. Tolerance 1e-5 + 1e-4·|original|: above the float reassociation a fold or fusion
/// causes (≈1e-6 measured on ppocr's folded BatchNorms), far below what a wrong rewrite causes.
/// </summary>
public static class RewriteVerification
{
    /// <param name="modelName">The original's file, named in errors.</param>
    /// <returns>null when the outputs match; otherwise where they first differ, or why the rewritten model does not run.</returns>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot load or run the original model.</exception>
    public static string? FirstMismatch(ModelProto original, string modelName, ModelProto rewritten, SampleSet samples, int maxSamples = 16)
    {
        using var before = new ModelRunner(original, modelName);
        ModelRunner after;
        try
        {
            after = new ModelRunner(rewritten, "the rewritten model");
        }
        catch (CompressionException e) when (e.InnerException is OnnxRuntimeException ort)
        {
            // The original loads, so the rewrite is at fault, not the model.
            return $"the rewritten model does not load: {OnnxRuntimeFailure.Summary(ort.Message)}";
        }
        using (after)
        {
            var checkedSamples = samples.Spread(Math.Min(maxSamples, samples.Count));
            for (var i = 0; i < checkedSamples.Count; i++)
            {
                var feed = checkedSamples.Sample(i);
                var sample = $"sample {checkedSamples.SourceIndex(i)}";
                IReadOnlyDictionary<string, NdArray> expected, actual;
                try
                {
                    expected = before.Run(feed);
                }
                catch (OnnxRuntimeException e)
                {
                    throw OnnxRuntimeFailure.CannotRun(modelName, $"on {sample} of '{samples.File}'", e);
                }
                try
                {
                    actual = after.Run(feed);
                }
                catch (OnnxRuntimeException e)
                {
                    return $"the rewritten model fails on {sample}: {OnnxRuntimeFailure.Summary(e.Message)}";
                }
                if (Difference(expected, actual) is { } difference) return $"{difference} on {sample}";
            }
        }
        return null;
    }

    private static string? Difference(IReadOnlyDictionary<string, NdArray> expected, IReadOnlyDictionary<string, NdArray> actual)
    {
        foreach (var (name, value) in expected)
        {
            if (!actual.TryGetValue(name, out var other) || !other.Shape.SequenceEqual(value.Shape))
                return $"output '{name}' has another shape";
            if (value.Strings is not null) continue;
            var a = value.ToFloats();
            var b = other.ToFloats();
            for (var k = 0; k < a.Length; k++)
            {
                var same = a[k] == b[k] || (float.IsNaN(a[k]) && float.IsNaN(b[k])) || Math.Abs(a[k] - b[k]) <= 1e-5 + 1e-4 * Math.Abs(a[k]);
                if (!same) return string.Create(CultureInfo.InvariantCulture, $"output '{name}' differs at element {k}: {a[k]} vs {b[k]}");
            }
        }
        return null;
    }
}
