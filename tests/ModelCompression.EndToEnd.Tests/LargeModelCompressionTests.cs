using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// A model of over 100 MB (<see cref="ConvTowerShape.HundredMegabytes"/>) compressed with default settings and a 1%
/// budget, by the worker out of process so that its peak memory is its own. The planner must go beyond int8 on it
/// within the budget, and a build machine with 5.5 GiB must be enough.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public sealed partial class LargeModelCompressionTests(ITestOutputHelper output)
{
    /// <summary>Set to 1 to run the 100 MB model (not part of the CI suite: see the test).</summary>
    public const string RunVariable = "MODELCOMPRESSION_LARGE_MODEL";

    private const long MinimumModelBytes = 100L << 20;
    private const long PeakLimitBytes = 11L << 29; // 5.5 GiB

    /// <summary>int8 alone gives about 4×; this much shows that the plan went further (int4, low-rank, pruning...).</summary>
    private const double BeyondInt8Ratio = 4.5;

    // 1% of agreement is one sample in a hundred: the validation data must hold at least that many (MC2008). The search
    // split is the calibration data: 64 samples keep each of the search's model runs short.
    private const int CalibrationSamples = 64, ValidationSamples = 128;
    private const int ModelSeed = 7, CalibrationSeed = 11, ValidationSeed = 13;

    /// <summary>The default search time plus the measurements before and after it, and writing the outputs.</summary>
    private static readonly TimeSpan WorkerTimeout = CompressionRequest.DefaultMaxSearchTime + TimeSpan.FromMinutes(2);

    [Fact]
    public void A_100_MB_conv_tower_is_compressed_beyond_int8_within_one_point_under_5_5_GiB()
    {
        // Its default search takes a quarter of an hour or more on 2 cores (figures in the README), more than the suite's
        // budget: it runs when asked for. The plain random tower this replaced lost 28 points of agreement with int8 on
        // every layer (it amplified weight errors); the residual tower with class-structured inputs (ConvTowerModel) keeps
        // int8 and int4 weights near-lossless, as a trained network does.
        Assert.SkipUnless(Environment.GetEnvironmentVariable(RunVariable) == "1",
            $"The 100 MB model's search takes a quarter of an hour or more: set {RunVariable}=1 to run it.");
        using var folder = new WorkerFolder();
        var shape = ConvTowerShape.HundredMegabytes;
        WriteModelFolder(folder, shape);
        var modelBytes = new FileInfo(folder.ModelPath).Length;
        Assert.True(modelBytes >= MinimumModelBytes, $"model.onnx is {modelBytes} bytes, less than {MinimumModelBytes}");
        MeasureOriginal(folder, shape);

        var run = folder.CompressWithDefaults("1%", WorkerTimeout);
        output.WriteLine($"worker: exit code {run.ExitCode} after {run.Command.Duration.TotalSeconds:0.0} s");
        output.WriteLine(run.Output);
        run.AssertSucceeded();

        var report = ReportWriter.FromJson(File.ReadAllText(Path.Combine(folder.ReportDirectory, "model.report.json")));
        var chosen = report.Chosen!;
        var ratio = (double)report.OriginalSizeBytes / chosen.SizeBytes;
        var peak = PeakMemoryBytes(run);
        var figures = $"worker {run.Command.Duration.TotalSeconds:0} s; peak memory {peak >> 20} MB; search {report.SearchSeconds:0.0} s" +
                      $"{(report.SearchTimedOut ? " (stopped by MaxSearchTime)" : "")}; {report.Candidates.Count} candidates measured\n" +
                      $"chosen {chosen.Label}: {report.OriginalSizeBytes} B -> {chosen.SizeBytes} B ({ratio:0.00}x), " +
                      $"{report.Metric} drop {chosen.ValidationDrop:0.0000} on {report.ValidationSamples} validation samples; plan {chosen.Plan}";
        output.WriteLine(figures);
        // A half-hour run's figures must survive a runner that shows only failing tests' output.
        File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "large-model-result.txt"), figures + "\n");

        Assert.True(peak < PeakLimitBytes, $"peak memory {peak >> 20} MB, limit {PeakLimitBytes >> 20} MB");
        Assert.True(new Budgets(0.01, null, null).AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
        Assert.True(ratio >= BeyondInt8Ratio, $"{chosen.Label} is {ratio:0.00}x smaller, not beyond int8 ({BeyondInt8Ratio}x)");
        Assert.False(report.SearchTimedOut, "the search stopped at MaxSearchTime: its plan depends on the machine's speed");
    }

    /// <summary>model.onnx, calibration.npz and validation.npz of the tower, replacing the folder's small model.</summary>
    private void WriteModelFolder(WorkerFolder folder, ConvTowerShape shape)
    {
        var stopwatch = Stopwatch.StartNew();
        OnnxModelFile.Save(ConvTowerModel.Build(shape, ModelSeed), folder.ModelPath);
        ConvTowerModel.WriteData(folder.CalibrationPath, shape, CalibrationSamples, CalibrationSeed);
        ConvTowerModel.WriteData(folder.ValidationPath, shape, ValidationSamples, ValidationSeed);
        output.WriteLine($"built {shape}: {shape.ParameterCount:N0} parameters, model.onnx {new FileInfo(folder.ModelPath).Length:N0} B, " +
                         $"{shape.MultiplyAddsPerSample / 1e9:0.00} G multiply-adds a sample; files written in {stopwatch.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// One ONNX Runtime pass of the original over the validation data, as the evaluator batches it: its time sets the
    /// cost of every candidate the search measures. Its scores must spread over classes, or agreement judges nothing.
    /// </summary>
    private void MeasureOriginal(WorkerFolder folder, ConvTowerShape shape)
    {
        var stopwatch = Stopwatch.StartNew();
        using var runner = new ModelRunner(OnnxModelFile.Load(folder.ModelPath), "model.onnx");
        var loaded = stopwatch.Elapsed;
        var inputs = new Dictionary<string, NdArray> { [ConvTowerModel.InputName] = ConvTowerModel.Inputs(shape, ValidationSamples, ValidationSeed) };
        var passes = new List<TimeSpan>();
        float[] scores = [];
        for (var pass = 0; pass < 2; pass++)
        {
            var start = stopwatch.Elapsed;
            scores = runner.Run(inputs)[ConvTowerModel.OutputName].ToFloats();
            passes.Add(stopwatch.Elapsed - start);
        }

        var spread = ScoreSpread.Of(scores, shape.Classes);
        output.WriteLine($"ONNX Runtime: session {loaded.TotalSeconds:0.0} s; a pass over {ValidationSamples} samples " +
                         $"{string.Join(", ", passes.Select(p => $"{p.TotalSeconds:0.00} s"))} ({Environment.ProcessorCount} cores)");
        output.WriteLine($"scores: {spread}");
        Assert.True(spread.IsUsable, $"the original's scores cannot judge agreement: {spread}");
    }

    private static long PeakMemoryBytes(WorkerResult run)
    {
        var match = PeakMemory().Match(run.Output);
        Assert.True(match.Success, "The worker printed no peak memory line.");
        return long.Parse(match.Groups["mb"].Value, CultureInfo.InvariantCulture) << 20;
    }

    [GeneratedRegex(@"detail: peak memory (?<mb>\d+) MB")]
    private static partial Regex PeakMemory();

    /// <summary>How the scores of a batch spread: their scale, how much samples differ, and how many classes win.</summary>
    private sealed record ScoreSpread(double Std, double StdAcrossSamples, double MeanMargin, int WinningClasses, bool AllFinite)
    {
        /// <summary>Finite, of a sane scale, samples that differ, and several classes winning: neither exploded nor collapsed.</summary>
        public bool IsUsable => AllFinite && Std is > 1e-3 and < 1e3 && StdAcrossSamples > 0.01 * Std && WinningClasses >= 3;

        public static ScoreSpread Of(float[] scores, int classes)
        {
            var samples = scores.Length / classes;
            var rows = Enumerable.Range(0, samples).Select(s => scores.AsSpan(s * classes, classes).ToArray()).ToList();
            var mean = scores.Average(v => (double)v);
            var std = Math.Sqrt(scores.Average(v => (v - mean) * (v - mean)));
            // Per class, the spread over samples; averaged over classes.
            var acrossSamples = Enumerable.Range(0, classes).Average(c =>
            {
                var column = rows.Select(r => (double)r[c]).ToList();
                var m = column.Average();
                return Math.Sqrt(column.Average(v => (v - m) * (v - m)));
            });
            var margins = rows.Select(r => { var sorted = r.OrderDescending().ToArray(); return (double)(sorted[0] - sorted[1]); });
            var winners = rows.Select(r => Array.IndexOf(r, r.Max())).Distinct().Count();
            return new ScoreSpread(std, acrossSamples, margins.Average(), winners, scores.All(float.IsFinite));
        }

        public override string ToString() =>
            $"std {Std:G3}, std across samples {StdAcrossSamples:G3}, mean top-1 margin {MeanMargin:G3}, {WinningClasses} classes win, {(AllFinite ? "all finite" : "NOT all finite")}";
    }
}
