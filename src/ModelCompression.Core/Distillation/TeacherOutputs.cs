using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Distillation;

/// <summary>
/// The original model's outputs on every sample, run once with ONNX Runtime: what the student learns from. Each output as
/// float32 with the batch axis first and the model's own shape after it ([N, C], [N, T, C]); memory: samples × output size.
/// </summary>
public static class TeacherOutputs
{
    /// <exception cref="Diagnostics.CompressionException">MC1003 ONNX Runtime fails on a sample.</exception>
    public static IReadOnlyDictionary<string, NdArray> Of(ModelProto teacher, string modelName, SampleSet samples)
    {
        using var evaluator = new Evaluator(teacher, modelName);
        var values = evaluator.OutputNames.Select(_ => new float[samples.Count][]).ToArray();
        var lastAxes = new int[values.Length];
        evaluator.Run(samples, (index, outputs) =>
        {
            for (var o = 0; o < outputs.Count; o++)
            {
                values[o][index] = outputs[o].Values.ToArray();
                lastAxes[o] = Math.Max(1, outputs[o].LastAxis);
            }
        });
        var shapes = SampleShapes(teacher, modelName, samples, evaluator.OutputNames);
        var result = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        for (var o = 0; o < values.Length; o++)
        {
            var perSample = values[o][0].Length;
            if (values[o].Any(v => v.Length != perSample))
                throw new NotSupportedException($"The outputs of '{modelName}' change size from sample to sample; they cannot be distilled.");
            var shape = shapes[o] is { } known && known.Aggregate(1L, (a, d) => a * d) == perSample ? known : [perSample / lastAxes[o], lastAxes[o]];
            result[evaluator.OutputNames[o]] = NdArray.Create<float>([samples.Count, .. shape], values[o].SelectMany(v => v).ToArray());
        }
        return result;
    }

    /// <summary>Each output's shape for one sample, after its batch axis (null when it has none).</summary>
    private static long[]?[] SampleShapes(ModelProto teacher, string modelName, SampleSet samples, IReadOnlyList<string> outputs)
    {
        using var runner = new ModelRunner(teacher, modelName, quiet: true);
        var one = runner.Run(samples.Sample(0), outputs);
        return outputs.Select(name => one[name].Shape is [1, .. var rest] ? rest.ToArray() : null).ToArray();
    }
}
