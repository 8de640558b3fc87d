using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization.Dynamic;

namespace ModelCompression.QuantizationBench;

/// <summary>The two ways of writing dynamic int8: what ORT runs after its fusions, and how fast.</summary>
internal static class DynamicForms
{
    public static void Print(string folder)
    {
        var name = Path.GetFileName(folder);
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        new NodeNaming().Apply(model);
        new LosslessPipeline().Apply(model);
        var sample = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, model).Sample(0);
        var standard = Quantized(model, DynamicQuantizationForm.Standard);
        var fused = Quantized(model, DynamicQuantizationForm.Fused);

        Console.WriteLine($"## {name}");
        Console.WriteLine($"standard runs as: {string.Join(", ", OptimizedOps(standard))}");
        Console.WriteLine($"fused runs as:    {string.Join(", ", OptimizedOps(fused))}");
        for (var round = 0; round < 3; round++)
        {
            var vsFloat = LatencyMeter.Compare(model, name, standard, "standard", sample, QuantizationTable.Latency);
            var forms = LatencyMeter.Compare(standard, "standard", fused, "fused", sample, QuantizationTable.Latency);
            Console.WriteLine($"round {round + 1}: fp32 {vsFloat.Baseline.TotalMicroseconds:0.0} µs, standard {vsFloat.Candidate.TotalMicroseconds:0.0} µs ({vsFloat.Ratio:0.00}×); " +
                              $"standard {forms.Baseline.TotalMicroseconds:0.0} µs vs fused {forms.Candidate.TotalMicroseconds:0.0} µs (fused/standard {forms.Ratio:0.00})");
        }
    }

    private static ModelProto Quantized(ModelProto model, DynamicQuantizationForm form)
    {
        var copy = model.Clone();
        new Int8DynamicQuantization(form: form).Apply(copy);
        return copy;
    }

    /// <summary>The op types ORT runs after its load-time fusions (level EXTENDED, where the quantization fusions are; ALL adds only layout changes).</summary>
    public static IEnumerable<string> OptimizedOps(ModelProto model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mc-bench-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = path })
            using (new InferenceSession(model.ToByteArray(), options)) { }
            return ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).Graph.Node.Select(n => n.OpType).ToList();
        }
        finally
        {
            File.Delete(path);
        }
    }
}
