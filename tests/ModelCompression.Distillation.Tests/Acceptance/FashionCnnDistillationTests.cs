using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;
using static ModelCompression.Distillation.Tests.Acceptance.DistillationAcceptanceTests;

namespace ModelCompression.Distillation.Tests.Acceptance;

/// <summary>fashion-cnn as <see cref="DistillationAcceptanceTests"/> judges digits-mlp, in a class of its own so that it runs beside them.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
[RunsForMinutes]
public sealed class FashionCnnDistillationTests
{
    [Fact]
    public void Fashion_cnn_distilled_is_at_least_120x_smaller_within_one_point_on_all_10000_validation_images()
    {
        using var dir = new TempDirectory();

        new Compressor(new RecordingLog(), () => new Distiller()).Run(Request("fashion-cnn", dir));

        var report = Report(dir);
        var chosen = report.Chosen!;
        Assert.Equal(10000, report.ValidationSamples);
        Assert.False(report.SearchTimedOut);
        Assert.True(report.OriginalSizeBytes >= 120 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(new Budgets(0.01, null, null).AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
        Assert.NotNull(report.Distillation!.WithoutDistillation);
        Assert.True(report.Distillation.WithoutDistillation!.SizeBytes > chosen.SizeBytes);
        AssertDistillationHelped(report);
        Log($"fashion-cnn: {chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B ({(double)report.OriginalSizeBytes / chosen.SizeBytes:F1}×), " +
            $"accuracy {chosen.ValidationScore:F4} (original {report.OriginalScore:F4}), latency {chosen.LatencyRatio:F2}×; without distillation " +
            $"{report.Distillation.WithoutDistillation.SizeBytes} B, {report.Distillation.WithoutDistillation.ValidationScore:F4}; " +
            $"{report.Distillation.Sketches.Count} students trained");

        // The locked rebuild: no training, the same bytes; its time is printed, not asserted (machines differ).
        var first = File.ReadAllBytes(dir.Combine("out", "model.onnx"));
        File.Delete(dir.Combine("out", "model.onnx"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        new Compressor(new RecordingLog(), MustNotTrain).Run(Request("fashion-cnn", dir, locked: true));
        Log($"fashion-cnn: locked rebuild of the distilled plan {clock.Elapsed.TotalSeconds:F1} s (applying the plan and measuring it on the 10,000 validation images)");
        Assert.Equal(first, File.ReadAllBytes(dir.Combine("out", "model.onnx")));
    }
}
