using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.PaletteBench;

// Palettization and magnitude pruning on the shared models: file size, score on validation.npz, batch-1 latency
// against fp32 (interleaved, LatencyMeter.Compare) and session load time (the expansions are folded at load).
// Usage: dotnet run -c Release --project tests/ModelCompression.PaletteBench [-- [section...] [--runs N]]
// Sections: palettize, load, weighting, opsets, prune, sparse-initializers (default: all).
var runs = 101;
var sections = new List<string>();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--runs") runs = int.Parse(args[++i]);
    else sections.Add(args[i]);
}
if (sections.Count == 0) sections = ["palettize", "load", "weighting", "opsets", "prune", "sparse-initializers"];
var root = BenchModel.SharedModelsRoot();
if (root is null)
{
    Console.Error.WriteLine("../shared/models not found beside the repository (or set MODELCOMPRESSION_SHARED_MODELS).");
    return 1;
}
var latency = new LatencyOptions { WarmupRuns = 10, Runs = runs };
Console.WriteLine($"ONNX Runtime {typeof(Microsoft.ML.OnnxRuntime.InferenceSession).Assembly.GetName().Version}, {Environment.ProcessorCount} cores; " +
    $"latency: median of {runs} interleaved batch-1 runs, 1 thread, ORT_ENABLE_ALL; load: median session creation of 5; sizes in bytes");

foreach (var section in sections)
{
    switch (section)
    {
        case "palettize":
            foreach (var name in new[] { "digits-mlp", "fashion-cnn" })
            {
                var bench = BenchModel.Load(root, name, latency);
                bench.Header("palettization, every eligible layer");
                bench.Row("fp32 (lossless passes)");
                foreach (var bits in new[] { 8, 6, 4, 3, 2 })
                {
                    var nodes = WeightPalettization.EligibleNodes(bench.Lossless);
                    bench.Row($"{bits}-bit, per tensor", new WeightPalettization(nodes.ToDictionary(n => n, _ => bits)));
                    bench.Row($"{bits}-bit, per 16 channels", new WeightPalettization(nodes.ToDictionary(n => n, _ => bits), PaletteGranularity.PerChannelGroup, 16));
                    bench.Row($"{bits}-bit, per channel", new WeightPalettization(nodes.ToDictionary(n => n, _ => bits), PaletteGranularity.PerChannelGroup, 1));
                }
            }
            break;
        case "load":
            LoadTimes.Run(BenchModel.Load(root, "fashion-cnn", latency));
            break;
        case "weighting":
            Weighting.Run(BenchModel.Load(root, "fashion-cnn", latency));
            break;
        case "opsets":
            foreach (var name in new[] { "ppocr-cls", "silero-vad", "ppocr-rec" })
            {
                var bench = BenchModel.Load(root, name, latency);
                var nodes = WeightPalettization.EligibleNodes(bench.Lossless);
                bench.Header($"palettization at opset {bench.Opset}, every eligible layer ({nodes.Count} nodes)");
                bench.Row("fp32 (lossless passes)");
                foreach (var bits in new[] { 8, 6, 4 })
                {
                    bench.Row($"{bits}-bit, per tensor", new WeightPalettization(nodes.ToDictionary(n => n, _ => bits)));
                    bench.Row($"{bits}-bit, per 16 channels", new WeightPalettization(nodes.ToDictionary(n => n, _ => bits), PaletteGranularity.PerChannelGroup, 16));
                }
            }
            break;
        case "prune":
            Pruning.Run(BenchModel.Load(root, "fashion-cnn", latency));
            break;
        case "sparse-initializers":
            SparseInitializers.Run(BenchModel.Load(root, "fashion-cnn", latency));
            break;
        default:
            Console.Error.WriteLine($"Unknown section '{section}'.");
            return 1;
    }
}
return 0;
