// Compresses every model of ../shared/models with MaxAccuracyDrop=1% twice in one process: with the quantization
// techniques only (fusion, int8, int4, fp16: the previous issue's search) and with every technique; prints, per model
// and mode, the original against the compressed size, parameters and FLOPs (batch 1), the metric on the full
// validation data, the batch-1 latency ratio measured in the same process, the chosen plan and the search time.
//   dotnet run -c Release --project tests/ModelCompression.Benchmarks [-- [--quantization-only | --combined-only | --rounding-only] model ...]
using System.Diagnostics;
using ModelCompression.Benchmarks;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;
using ModelCompression.Testing;

if (SharedModels.Root is null)
{
    Console.Error.WriteLine("../shared/models was not found beside the repository (or set MODELCOMPRESSION_SHARED_MODELS).");
    return 1;
}

var names = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToList();
var modes = args.Contains("--quantization-only") ? [BenchmarkMode.QuantizationOnly]
    : args.Contains("--combined-only") ? [BenchmarkMode.Combined]
    : args.Contains("--rounding-only") ? [BenchmarkMode.CombinedNearest, BenchmarkMode.Combined]
    : new[] { BenchmarkMode.QuantizationOnly, BenchmarkMode.CombinedNearest, BenchmarkMode.Combined };
var selected = names.Count > 0 ? BenchmarkModels.All.Where(m => names.Contains(m.Folder)).ToList() : BenchmarkModels.All;
var rows = new List<string>();
using var work = new TempDirectory("mc-bench");
foreach (var model in selected)
    foreach (var mode in modes)
    {
        var folder = Path.Combine(SharedModels.Root, model.Folder);
        var outputs = work.Combine(model.Folder, mode.Folder);
        Console.WriteLine($"== {model.Folder}, {mode.Name} ({model.Metric}, MaxAccuracyDrop 1%)");
        var request = new CompressionRequest
        {
            ModelPath = Path.Combine(folder, "model.onnx"),
            OutputPath = Path.Combine(outputs, "model.onnx"),
            ValidationDataPath = Path.Combine(folder, "validation.npz"),
            CalibrationDataPath = Path.Combine(folder, "calibration.npz"),
            Metric = model.Metric,
            Budgets = new Budgets(0.01, null, null),
            Techniques = mode.Techniques,
            DataAwareRounding = mode.DataAwareRounding,
            ReportDirectory = Path.Combine(outputs, "report"),
            LockPath = Path.Combine(outputs, "model.compression.lock.json"),
        };
        var clock = Stopwatch.StartNew();
        new Compressor(new ConsoleBenchLog()).Run(request);
        var seconds = clock.Elapsed.TotalSeconds;
        var report = ReportWriter.FromJson(File.ReadAllText(Path.Combine(request.ReportDirectory, "model.report.json")));
        rows.Add(BenchmarkTable.Row(model, mode, report, seconds));
    }

Console.WriteLine();
Console.WriteLine(BenchmarkTable.Header);
foreach (var row in rows) Console.WriteLine(row);
return 0;
