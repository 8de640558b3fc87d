using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Onnx;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Quantization.Static;

/// <summary>What ONNX Runtime actually runs: the graph after its load-time fusions (level "extended", where the QDQ fusions live).</summary>
internal static class OptimizedGraph
{
    public static string[] OpTypes(ModelProto model, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_EXTENDED)
    {
        using var folder = new TempDirectory("mc-optimized");
        var path = folder.Combine("optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = level, OptimizedModelFilePath = path })
        {
            options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            using var session = new InferenceSession(model.ToByteArray(), options);
        }
        var optimized = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        return optimized.Graph.Node.Select(n => n.OpType).ToArray();
    }
}
