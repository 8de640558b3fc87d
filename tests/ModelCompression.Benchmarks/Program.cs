// Compresses every model of ../shared/models with MaxAccuracyDrop=1% and prints, per model, the
// original against the compressed size, the metric on the full validation data, the batch-1
// latency ratio measured in the same process, and the search time.
//   dotnet run -c Release --project tests/ModelCompression.Benchmarks [-- model ...]
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

var selected = args.Length > 0 ? BenchmarkModels.All.Where(m => args.Contains(m.Folder)).ToList() : BenchmarkModels.All;
var rows = new List<string>();
using var work = new TempDirectory("mc-bench");
foreach (var model in selected)
{
    var folder = Path.Combine(SharedModels.Root, model.Folder);
    Console.WriteLine($"== {model.Folder} ({model.Metric}, MaxAccuracyDrop 1%)");
    var request = new CompressionRequest
    {
        ModelPath = Path.Combine(folder, "model.onnx"),
        OutputPath = work.Combine(model.Folder, "model.onnx"),
        ValidationDataPath = Path.Combine(folder, "validation.npz"),
        CalibrationDataPath = Path.Combine(folder, "calibration.npz"),
        Metric = model.Metric,
        Budgets = new Budgets(0.01, null, null),
        ReportDirectory = work.Combine(model.Folder, "report"),
        LockPath = work.Combine(model.Folder, "model.compression.lock.json"),
    };
    var clock = Stopwatch.StartNew();
    new Compressor(new ConsoleBenchLog()).Run(request);
    var seconds = clock.Elapsed.TotalSeconds;
    var report = ReportWriter.FromJson(File.ReadAllText(Path.Combine(request.ReportDirectory, "model.report.json")));
    rows.Add(BenchmarkTable.Row(model, report, seconds));
}

Console.WriteLine();
Console.WriteLine(BenchmarkTable.Header);
foreach (var row in rows) Console.WriteLine(row);
return 0;
