using System.Diagnostics;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Planning;

// Weight forms side by side on the shared models: size, score on validation.npz, batch-1 latency ratio vs fp32.
// Usage: dotnet run -c Release --project tests/ModelCompression.WeightFormsBench [-- [model...] [--runs N]]
var runs = 101;
var models = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--runs") runs = int.Parse(args[++i]);
    else models.Add(args[i]);
}
if (models.Count == 0) models = ["digits-mlp", "fashion-cnn", "silero-vad", "ppocr-rec"];
var root = SharedModelsRoot();
if (root is null)
{
    Console.Error.WriteLine("../shared/models not found beside the repository (or set MODELCOMPRESSION_SHARED_MODELS).");
    return 1;
}

var latency = new LatencyOptions { WarmupRuns = 10, Runs = runs };
Console.WriteLine($"ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version}, {Environment.ProcessorCount} cores, " +
    $"latency: median of {runs} interleaved batch-1 runs, 1 thread, ORT_ENABLE_ALL; sizes in bytes");
foreach (var name in models) Bench(name);
return 0;

void Bench(string name)
{
    var folder = Path.Combine(root, name);
    var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
    var validation = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original);
    var metric = validation.HasLabels ? MetricKind.Accuracy : name == "silero-vad" ? MetricKind.Cosine : MetricKind.Agreement;
    var reference = Reference.Measure(original, name, validation, metric);
    var lossless = original.Clone();
    new LosslessPipeline().Apply(lossless); // every form starts from here (Constant nodes become initializers)

    Console.WriteLine();
    Console.WriteLine($"## {name}: {validation.Count} validation samples, metric {metric.ToString().ToLowerInvariant()}, fp32 score {reference.Score:0.0000}");
    Console.WriteLine();
    Console.WriteLine("| form | size | ×smaller | score | drop (pt) | latency ×fp32 | fp32 median | rewritten nodes | time |");
    Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|---:|");
    var originalSize = OnnxModelFile.SizeOf(original);
    void Row(string form, params IGraphPass[] passes)
    {
        var clock = Stopwatch.StartNew();
        var model = lossless.Clone();
        var rewritten = passes.Select(p => $"{p.Name} {p.Apply(model)}").ToList();
        var size = OnnxModelFile.SizeOf(model);
        var score = reference.Evaluate(model, form);
        var timing = LatencyMeter.Compare(original, name, model, form, validation.Sample(0), latency);
        Console.WriteLine($"| {form} | {size:N0} | {originalSize / (double)size:0.00} | {score:0.0000} | {100 * (reference.Score - score):+0.00;-0.00;0.00} | " +
            $"{timing.Ratio:0.000} | {timing.Baseline.TotalMicroseconds:0.0} µs | {(rewritten.Count == 0 ? "" : string.Join(", ", rewritten))} | {clock.Elapsed.TotalSeconds:0.0} s |");
    }

    Row("fp32 (lossless passes)");
    Row("int8 weights", new Int8WeightQuantization());
    Row("fp16 weights", new Fp16WeightConversion());
    foreach (var blockSize in new[] { 32, 64, 128 })
        Row($"int4 b{blockSize} + int8", new Int4WeightQuantization(settings: new Int4Settings(blockSize)), new Int8WeightQuantization());
    Row("int4 b32 asym + int8", new Int4WeightQuantization(settings: new Int4Settings(32, Symmetric: false)), new Int8WeightQuantization());
    Row("int4 b32 acc4 + int8", new Int4WeightQuantization(settings: new Int4Settings(32, AccuracyLevel: 4)), new Int8WeightQuantization());
    Row("int4 b128 acc4 + int8", new Int4WeightQuantization(settings: new Int4Settings(128, AccuracyLevel: 4)), new Int8WeightQuantization());
}

static string? SharedModelsRoot()
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
