using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;
using ModelCompression.Testing;

namespace ModelCompression.Distillation.Tests.Acceptance;

/// <summary>
/// The whole search with distillation on the real models of ../shared/models (MaxAccuracyDrop=1%, their training.npz),
/// judged on their full validation sets, and the locked rebuild of the distilled plan. fashion-cnn, the longest, is in
/// <see cref="FashionCnnDistillationTests"/>: xunit runs classes side by side, the tests of one class in turn.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public sealed class DistillationAcceptanceTests
{
    /// <summary>
    /// The safety net far beyond the search's work (three times its default), so that on a slow or busy machine the plan
    /// still comes from the search's counts: the acceptance tests assert that it did not fire.
    /// </summary>
    private static readonly TimeSpan SafetyNet = 3 * CompressionRequest.DefaultMaxSearchTime;

    internal static CompressionRequest Request(string model, TempDirectory dir, bool locked = false)
    {
        var folder = SharedModels.Folder(model);
        return new CompressionRequest
        {
            ModelPath = Path.Combine(folder, "model.onnx"),
            OutputPath = dir.Combine("out", "model.onnx"),
            ValidationDataPath = Path.Combine(folder, "validation.npz"),
            CalibrationDataPath = Path.Combine(folder, "calibration.npz"),
            TrainingDataPath = Path.Combine(folder, "training.npz"),
            DistillationPluginPath = typeof(Distiller).Assembly.Location,
            Metric = MetricKind.Accuracy,
            Budgets = new Budgets(0.01, null, null),
            ReportDirectory = dir.Combine("report"),
            LockPath = dir.Combine("model.compression.lock.json"),
            LockedMode = locked,
            MaxSearchTime = SafetyNet,
        };
    }

    internal static CompressionReport Report(TempDirectory dir) => ReportWriter.FromJson(File.ReadAllText(dir.Combine("report", "model.report.json")));

    /// <summary>Fails the test if a locked rebuild tried to train.</summary>
    internal static IDistiller MustNotTrain() => throw new InvalidOperationException("a locked rebuild loaded the distiller");

    /// <summary>
    /// Its smallest students lose about a point, which the 256-sample search split (a point is 2.56 samples there) cannot
    /// tell from more: they are judged on the validation data when the split's drop is within its standard error.
    /// </summary>
    [Fact]
    public void Digits_mlp_distilled_is_at_least_20x_smaller_within_one_point_and_its_locked_rebuild_is_identical_without_training()
    {
        using var dir = new TempDirectory();

        new Compressor(new RecordingLog(), () => new Distiller()).Run(Request("digits-mlp", dir));

        var report = Report(dir);
        var chosen = report.Chosen!;
        Assert.False(report.SearchTimedOut);
        Assert.True(report.OriginalSizeBytes >= 20 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(chosen.SizeBytes < report.Distillation!.WithoutDistillation!.SizeBytes, $"{chosen.SizeBytes} B distilled, {report.Distillation.WithoutDistillation.SizeBytes} B without");
        Assert.True(new Budgets(0.01, null, null).AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
        Assert.Contains("distilled-weights", chosen.Plan);
        AssertDistillationHelped(report);

        // The locked rebuild applies the committed weights: no training, the same bytes.
        var first = File.ReadAllBytes(dir.Combine("out", "model.onnx"));
        File.Delete(dir.Combine("out", "model.onnx"));
        new Compressor(new RecordingLog(), MustNotTrain).Run(Request("digits-mlp", dir, locked: true));
        Assert.Equal(first, File.ReadAllBytes(dir.Combine("out", "model.onnx")));

        // Without its weights file the lock is stale: locked mode fails with MC5002 and writes nothing.
        var weights = Assert.Single(Directory.GetFiles(dir.Path, "model.distilled.*.npz"));
        File.Delete(weights);
        File.Delete(dir.Combine("out", "model.onnx"));
        var error = Assert.Throws<CompressionException>(() => new Compressor(new RecordingLog(), MustNotTrain).Run(Request("digits-mlp", dir, locked: true)));
        Assert.Equal(DiagnosticCode.LockStale, error.Code);
        Assert.Contains(Path.GetFileName(weights), error.Message);
        Assert.False(File.Exists(dir.Combine("out", "model.onnx")));
    }

    /// <summary>
    /// The safety net can end the search while a student trains: the report must say the plan depends on the machine,
    /// as the MC4101 warning does. A student that never finishes makes the clock end it; on a machine so slow that the
    /// post-training search itself runs out of time, the report says the same.
    /// </summary>
    [Fact]
    public void A_search_whose_distillation_the_search_time_stopped_says_so_in_the_report_and_warns_MC4101()
    {
        using var dir = new TempDirectory();
        var log = new RecordingLog();

        new Compressor(log, () => new TrainsUntilStopped()).Run(Request("digits-mlp", dir) with { MaxSearchTime = TimeSpan.FromSeconds(20) });

        Assert.True(Report(dir).SearchTimedOut);
        Assert.Single(log.Diagnostics, d => d.Code == DiagnosticCode.SearchTimeExceeded);
        Assert.True(File.Exists(dir.Combine("out", "model.onnx"))); // the post-training winner stands
    }

    private sealed class TrainsUntilStopped : IDistiller
    {
        public DistillationResult Distill(DistillationJob job, IProgress<string> progress, CancellationToken cancellation)
        {
            cancellation.WaitHandle.WaitOne();
            cancellation.ThrowIfCancellationRequested();
            throw new InvalidOperationException("unreachable: the wait ends only when the search time is up");
        }
    }

    internal static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);

    /// <summary>The same aggressive sketch scores higher on the validation data after distillation than without it.</summary>
    internal static void AssertDistillationHelped(CompressionReport report)
    {
        var sketches = report.Distillation!.Sketches;
        Assert.NotEmpty(sketches);
        Assert.All(sketches, s => Assert.True(s.DistilledValidationScore > s.UntrainedValidationScore,
            $"{s.Label}: {s.UntrainedValidationScore} untrained, {s.DistilledValidationScore} distilled"));
    }
}
