using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Acceptance;

/// <summary>ppocr-rec as <see cref="RealModelCompressionTests"/> judges the other models, in a class of its own so that it runs beside them.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
[RunsForMinutes]
public sealed class PpocrRecCompressionTests
{
    [Fact]
    public void Ppocr_rec_is_at_least_5x_smaller_within_one_point_of_agreement_having_predicted_every_option_of_every_layer()
    {
        using var dir = new TempDirectory();

        var (report, _) = RealModelCompressionTests.Compress("ppocr-rec", MetricKind.Agreement, dir);

        var chosen = report.Chosen!;
        Assert.True(report.OriginalSizeBytes >= 5 * chosen.SizeBytes, $"{chosen.Label}: {report.OriginalSizeBytes} B → {chosen.SizeBytes} B");
        Assert.True(RealModelCompressionTests.OnePoint.AllowsDrop(chosen.ValidationDrop ?? double.NaN), $"{chosen.Label} drops {chosen.ValidationDrop} on the validation set");
        Assert.False(report.SearchTimedOut);
        Assert.Equal(OptionsOfEveryLayer("ppocr-rec"), report.OptionsPredicted);
    }

    /// <summary>The settings the search may give each compressible layer of the model, summed over its layers.</summary>
    private static int OptionsOfEveryLayer(string name)
    {
        var model = OnnxModelFile.Load(Path.Combine(SharedModels.Folder(name), "model.onnx"));
        new LosslessPipeline().Apply(model);
        return CompressionSpace.Find(model, Technique.All).Layers.Sum(l => l.Settings.Count);
    }
}
