using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using Xunit;

namespace ModelCompression.Testing;

/// <summary>Checks a rewritten model against its original by running both in ONNX Runtime on the same inputs.</summary>
public static class ModelEquivalence
{
    /// <summary>Runs a model without ONNX Runtime's own graph optimisations, so that what runs is what the model says.</summary>
    public static IReadOnlyDictionary<string, NdArray> Run(ModelProto model, IReadOnlyDictionary<string, NdArray> inputs)
    {
        using var runner = new ModelRunner(model, "model", GraphOptimizationLevel.ORT_DISABLE_ALL, intraOpThreads: 1);
        return runner.Run(inputs);
    }

    /// <summary>Asserts that both models give the same outputs (within <paramref name="tolerance"/>, default <see cref="Tolerance.Tight"/>).</summary>
    public static void AssertSameOutputs(ModelProto original, ModelProto rewritten, IReadOnlyDictionary<string, NdArray> inputs, Tolerance? tolerance = null)
    {
        var expected = Run(original, inputs);
        var actual = Run(rewritten, inputs);
        var differences = OutputComparison.Differences(expected, actual, tolerance ?? Tolerance.Tight);
        Assert.True(differences.Count == 0, "The rewritten model's outputs differ from the original's:\n" + string.Join("\n", differences));
    }
}
