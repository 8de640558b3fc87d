using System.Diagnostics;
using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Static;

namespace ModelCompression.QuantizationBench;

/// <summary>
/// One model, every quantized form: file size, score on the whole validation set, and the median batch-1 latency
/// (one thread, I/O binding) as a ratio to the original's, both timed interleaved in this process.
/// </summary>
internal static class QuantizationTable
{
    public static readonly LatencyOptions Latency = new() { WarmupRuns = 30, Runs = 301 };

    public static void Print(string folder)
    {
        var name = Path.GetFileName(folder);
        var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        new NodeNaming().Apply(original);
        var validation = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original);
        var calibration = SampleSet.Load(Path.Combine(folder, "calibration.npz"), DataSetting.CalibrationData, original);
        var metric = Metrics.DefaultFor(validation);
        var reference = Reference.Measure(original, name, validation, metric);
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless);
        var sample = validation.Sample(0);

        Console.WriteLine();
        Console.WriteLine($"## {name} (opset {new Core.Graph.ModelView(original).OpsetVersion()}, {metric} on {validation.Count} validation samples, calibration on {calibration.Count})");
        Console.WriteLine();
        Console.WriteLine("| form | size | score | Δ score | latency vs fp32 | note |");
        Console.WriteLine("|---|---:|---:|---:|---:|---|");
        var runs = new List<string>();
        void Row(string form, ModelProto model, string note = "")
        {
            var score = reference.Evaluate(model, form);
            var ratio = LatencyMeter.Compare(original, name, model, form, sample, Latency).Ratio;
            Console.WriteLine($"| {form} | {OnnxModelFile.SizeOf(model) / 1024.0:0.0} KB | {score:0.0000} | {100 * (score - reference.Score):+0.00;-0.00;0.00} pt | {ratio:0.00}× | {note} |");
            runs.Add($"- {form}: {string.Join(", ", DynamicForms.OptimizedOps(model).GroupBy(o => o).Select(g => $"{g.Key} ×{g.Count()}"))}");
        }

        Row("fp32 original", original, "latency: the original against itself (noise)");
        Row("fp32 lossless", lossless);
        Row("int8 weights (Cast·Mul)", Apply(lossless, new Int8WeightQuantization()));

        if (!Int8StaticQuantization.CanApply(lossless, out var refused))
            Console.WriteLine($"| int8 static (QDQ) | | | | | refused: {refused} |");
        else
        {
            var watch = Stopwatch.StartNew();
            // One calibration with histograms serves every method below.
            var statistics = Int8StaticQuantization.Calibrate(lossless, name, calibration,
                new StaticQuantizationOptions { Activations = new CalibrationSettings(CalibrationMethod.Entropy) });
            var calibrated = $"calibration of {statistics.Tensors.Count} tensors: {watch.Elapsed.TotalSeconds:0.0} s";
            foreach (var options in StaticForms())
            {
                var pass = new Int8StaticQuantization(statistics, options: options);
                var model = Apply(lossless, pass);
                Row($"int8 static {options}", model, Note(calibrated, Skips(pass.Skipped)));
                calibrated = "";
            }
        }

        var form = Int8DynamicQuantization.CanApply(lossless, DynamicQuantizationForm.Standard, out _) ? DynamicQuantizationForm.Standard : DynamicQuantizationForm.Fused;
        var dynamicPass = new Int8DynamicQuantization(form: form);
        var dynamic = Apply(lossless, dynamicPass, out var rewrites);
        if (rewrites == 0) Console.WriteLine($"| int8 dynamic ({form}) | | | | | {Note("nothing to quantize", Skips(dynamicPass.Skipped))} |");
        else Row($"int8 dynamic ({form}, {rewrites} layers)", dynamic, Skips(dynamicPass.Skipped));

        Console.WriteLine();
        Console.WriteLine("What ONNX Runtime runs after its load-time fusions:");
        foreach (var line in runs) Console.WriteLine(line);
    }

    private static IEnumerable<StaticQuantizationOptions> StaticForms()
    {
        foreach (var method in Enum.GetValues<CalibrationMethod>())
            yield return new StaticQuantizationOptions { Activations = new CalibrationSettings(method, 99.99) };
        yield return new StaticQuantizationOptions { Activations = new CalibrationSettings(CalibrationMethod.MinMax, Symmetric: true) };
        yield return new StaticQuantizationOptions { IntegerIntermediateOps = false };
        yield return new StaticQuantizationOptions { Activations = new CalibrationSettings(CalibrationMethod.Entropy), IntegerIntermediateOps = false };
    }

    private static ModelProto Apply(ModelProto model, IGraphPass pass) => Apply(model, pass, out _);

    private static ModelProto Apply(ModelProto model, IGraphPass pass, out int rewrites)
    {
        var copy = model.Clone();
        rewrites = pass.Apply(copy);
        return copy;
    }

    private static string Note(params string[] parts) => string.Join("; ", parts.Where(p => p.Length > 0));

    private static string Skips(IReadOnlyList<SkippedNode> skipped) =>
        skipped.Count == 0 ? "" : $"skipped {skipped.Count}: " + string.Join("; ", skipped.GroupBy(s => s.Reason).Select(g => $"{g.Count()}× {g.Key}"));
}
