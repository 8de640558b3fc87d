using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Conversion;
using ModelCompression.Distillation.Native;
using ModelCompression.Testing;
using TorchSharp;

namespace ModelCompression.Distillation.Tests.Conversion;

/// <summary>Runs converted students on <see cref="NdArray"/> inputs and compares them with ONNX Runtime.</summary>
internal static class StudentRuns
{
    /// <summary>The conformance bar: |student − ONNX Runtime| ≤ 1e-4 per element (plus 1e-4 relative, for large values).</summary>
    public static Tolerance Conformance { get; } = new(1e-4, 1e-4);

    public static OnnxStudent Convert(ModelProto model, params string[] trainedWeights)
    {
        TorchRuntime.EnsureLoaded();
        var conversion = StudentConverter.TryConvert(model, trainedWeights);
        Assert.True(conversion.Converted, "refused: " + conversion.Refusal);
        return conversion.Student!;
    }

    /// <summary>The student's outputs by name, without recording gradients.</summary>
    public static Dictionary<string, NdArray> Run(OnnxStudent student, IReadOnlyDictionary<string, NdArray> inputs)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tensors = inputs.ToDictionary(p => p.Key, p => TensorValues.ToTensor(p.Value));
        var outputs = student.Forward(tensors);
        return student.OutputNames.Zip(outputs).ToDictionary(p => p.First, p => TensorValues.ToNdArray(p.Second));
    }

    /// <summary>Converts the model, runs it and ONNX Runtime on the same inputs and asserts they agree within <see cref="Conformance"/>.</summary>
    public static void AssertMatchesOnnxRuntime(ModelProto model, IReadOnlyDictionary<string, NdArray> inputs, params string[] trainedWeights)
    {
        using var student = Convert(model, trainedWeights);
        AssertMatchesOnnxRuntime(student, model, inputs);
    }

    public static void AssertMatchesOnnxRuntime(OnnxStudent student, ModelProto model, IReadOnlyDictionary<string, NdArray> inputs)
    {
        var expected = ModelEquivalence.Run(model, inputs);
        var actual = Run(student, inputs);
        var differences = OutputComparison.Differences(expected, actual, Conformance);
        Assert.True(differences.Count == 0, "The student differs from ONNX Runtime:\n" + string.Join("\n", differences));
    }
}
