using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Distillation;

/// <summary>
/// The original model's outputs on every sample, run once with ONNX Runtime: what the student learns from. Each output as
/// float32 [samples, positions, last axis] (a classifier's [N, C] is [N, 1, C]); memory: samples × output size.
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
        var result = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        for (var o = 0; o < values.Length; o++)
        {
            var perSample = values[o][0].Length;
            if (values[o].Any(v => v.Length != perSample))
                throw new NotSupportedException($"The outputs of '{modelName}' change size from sample to sample; they cannot be distilled.");
            var all = values[o].SelectMany(v => v).ToArray();
            result[evaluator.OutputNames[o]] = NdArray.Create<float>([samples.Count, perSample / lastAxes[o], lastAxes[o]], all);
        }
        return result;
    }
}
