using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.Core.Tests.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Acceptance;

/// <summary>
/// The planner on the real models of ../shared/models with MaxAccuracyDrop=1%, judged on their full
/// validation sets. Latency is checked by the benchmark program, not here (timed tests are flaky). ppocr-rec, the
/// longest, is in <see cref="PpocrRecCompressionTests"/>: xunit runs classes side by side, the tests of one class in turn.
/// fashion-cnn with every technique is judged on the first run of the end-to-end determinism test, which searches it anyway.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
[RunsForMinutes]
public class RealModelCompressionTests
{
    /// <summary>The quantization family of the previous milestone: int8, int4 and fp16 storage, no structural changes.</summary>
    private const Technique QuantizationOnly = Technique.Fusion | Technique.Int8 | Technique.Int4 | Technique.Fp16;

    /// <summary>MaxAccuracyDrop="1%"; its own rule judges the drops (a drop of exactly one point, 100 of 10,000 images, holds).</summary>
    internal static readonly Budgets OnePoint = new(0.01, null, null);

    internal static (CompressionReport Report, ModelProto Written) Compress(string model, MetricKind metric, TempDirectory dir, Technique techniques = Technique.All)
    {
        var folder = SharedModels.Folder(model);
        var request = new CompressionRequest
        {
            ModelPath = Path.Combine(folder, "model.onnx"),
            OutputPath = dir.Combine("model.onnx"),
            ValidationDataPath = Path.Combine(folder, "validation.npz"),
            CalibrationDataPath = Path.Combine(folder, "calibration.npz"),
            Metric = metric,
            Budgets = OnePoint,
            Techniques = techniques,
            ReportDirectory = dir.Combine("report"),
            LockPath = dir.Combine("model.compression.lock.json"),
        };
        new Compressor(new RecordingLog()).Run(request);
        var report = ReportWriter.FromJson(File.ReadAllText(dir.Combine("report", "model.report.json")));
        return (report, OnnxModelFile.Load(request.OutputPath));
    }

    [Fact]
    public void Fashion_cnn_quantized_only_is_at_least_6x_smaller_within_one_point_on_all_10000_validation_images()
    {
        using var dir = new TempDirectory();

        var (report, _) = Compress("fashion-cnn", MetricKind.Accuracy, dir, QuantizationOnly);

        var chosen = report.Chosen!;
        Assert.Equal(10000, report.ValidationSamples);
        Assert.True(report.OriginalSizeBytes >= 6 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(OnePoint.AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
        Assert.Contains("int4-weights", chosen.Plan);
    }

    [Fact]
    public void Digits_mlp_is_at_least_15x_smaller_within_one_point_on_its_validation_data()
    {
        using var dir = new TempDirectory();

        var (report, _) = Compress("digits-mlp", MetricKind.Accuracy, dir);

        var chosen = report.Chosen!;
        Assert.True(report.OriginalSizeBytes >= 15 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(OnePoint.AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
    }

    [Fact]
    public void Ppocr_cls_is_at_least_5x_smaller_within_one_point_on_its_validation_data()
    {
        using var dir = new TempDirectory();

        var (report, _) = Compress("ppocr-cls", MetricKind.Accuracy, dir);

        var chosen = report.Chosen!;
        Assert.True(report.OriginalSizeBytes >= 5 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(OnePoint.AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
    }

    [Fact]
    public void Silero_vad_is_at_least_5x_smaller_with_the_LSTM_weights_inside_its_If_branches_compressed_within_the_cosine_budget()
    {
        using var dir = new TempDirectory();

        var (report, written) = Compress("silero-vad", MetricKind.Cosine, dir);

        var chosen = report.Chosen!;
        Assert.True(report.OriginalSizeBytes >= 5 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(OnePoint.AllowsDrop(chosen.ValidationDrop ?? double.NaN));
        // The LSTM weights inside the If branches are stored compressed (int8 codes or palette codes), not as floats.
        static long FloatBytesInBranches(ModelProto model) => OnnxWalk.Graphs(model).Skip(1).SelectMany(g => g.Initializer)
            .Where(t => t.DataType == (int)DataType.Float).Sum(t => 4 * TensorProtoConverter.ElementCount(t));
        var original = OnnxModelFile.Load(Path.Combine(SharedModels.Folder("silero-vad"), "model.onnx"));
        new LosslessPipeline().Apply(original); // the branches' weights are Constant nodes until then
        Assert.True(FloatBytesInBranches(written) * 4 < FloatBytesInBranches(original),
            $"{FloatBytesInBranches(written)} B of float weights left in the If branches, of {FloatBytesInBranches(original)} B");
        Assert.Equal(4, OnnxWalk.Graphs(written).SelectMany(g => g.Node).Count(n => n.OpType == "LSTM"));
    }
}
