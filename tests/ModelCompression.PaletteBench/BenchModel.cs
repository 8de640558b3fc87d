using System.Diagnostics;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Planning;

namespace ModelCompression.PaletteBench;

/// <summary>One shared model with its validation data and reference score, printing one table row per variant.</summary>
internal sealed class BenchModel
{
    private readonly LatencyOptions _latency;

    private BenchModel(string name, ModelProto original, ModelProto lossless, SampleSet validation, Reference reference, LatencyOptions latency)
    {
        Name = name;
        Original = original;
        Lossless = lossless;
        Validation = validation;
        Reference = reference;
        _latency = latency;
    }

    public string Name { get; }
    public ModelProto Original { get; }
    /// <summary>The original after the lossless passes: every variant starts here (Constant nodes are initializers).</summary>
    public ModelProto Lossless { get; }
    public SampleSet Validation { get; }
    public Reference Reference { get; }
    public long Opset => Original.OpsetImport.First(o => o.Domain is "" or "ai.onnx").Version;

    public static BenchModel Load(string root, string name, LatencyOptions latency)
    {
        var folder = Path.Combine(root, name);
        var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var validation = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original);
        var metric = validation.HasLabels ? MetricKind.Accuracy : name == "silero-vad" ? MetricKind.Cosine : MetricKind.Agreement;
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless);
        return new BenchModel(name, original, lossless, validation, Reference.Measure(original, name, validation, metric), latency);
    }

    public void Header(string what)
    {
        Console.WriteLine();
        Console.WriteLine($"## {Name} (opset {Opset}): {what}; {Validation.Count} validation samples, metric {Reference.Metric.ToString().ToLowerInvariant()}, fp32 score {Reference.Score:0.0000}");
        Console.WriteLine();
        Console.WriteLine("| variant | size | ×smaller | score | drop (pt) | latency ×fp32 | load ×fp32 | load | rewrites | pass time |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|");
    }

    /// <summary>Applies <paramref name="passes"/> to a copy of the lossless model and prints its row.</summary>
    public ModelProto Row(string variant, params IGraphPass[] passes)
    {
        var model = Lossless.Clone();
        var clock = Stopwatch.StartNew();
        var rewrites = passes.Select(p => $"{p.Name} {p.Apply(model)}").ToList();
        Row(variant, model, string.Join(", ", rewrites), clock.Elapsed);
        return model;
    }

    /// <param name="passTime">How long the passes took to make <paramref name="model"/>.</param>
    public void Row(string variant, ModelProto model, string note, TimeSpan passTime)
    {
        var size = OnnxModelFile.SizeOf(model);
        var score = Reference.Evaluate(model, variant);
        var timing = LatencyMeter.Compare(Original, Name, model, variant, Validation.Sample(0), _latency);
        var originalLoad = LoadTime(Original);
        var load = LoadTime(model);
        Console.WriteLine($"| {variant} | {size:N0} | {OnnxModelFile.SizeOf(Original) / (double)size:0.00} | {score:0.0000} | " +
            $"{100 * (Reference.Score - score):+0.00;-0.00;0.00} | {timing.Ratio:0.000} | {load.TotalMilliseconds / originalLoad.TotalMilliseconds:0.00} | " +
            $"{load.TotalMilliseconds:0} ms | {note} | {passTime.TotalSeconds:0.00} s |");
    }

    /// <summary>Median time to create a session (ORT_ENABLE_ALL, one thread): parsing, optimisation, constant folding.</summary>
    public static TimeSpan LoadTime(ModelProto model, int loads = 5)
    {
        var bytes = model.ToByteArray();
        var times = new List<double>();
        for (var i = 0; i < loads; i++)
        {
            using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 };
            var clock = Stopwatch.StartNew();
            using (new InferenceSession(bytes, options)) times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        return TimeSpan.FromMilliseconds(times[times.Count / 2]);
    }

    public static string? SharedModelsRoot()
    {
        var configured = Environment.GetEnvironmentVariable("MODELCOMPRESSION_SHARED_MODELS");
        if (!string.IsNullOrEmpty(configured)) return Directory.Exists(configured) ? configured : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "models");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
