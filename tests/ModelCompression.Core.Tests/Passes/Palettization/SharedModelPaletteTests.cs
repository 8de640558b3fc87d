using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Palettization;

/// <summary>
/// Palettization and pruning on the real models of ../shared/models (opsets 9, 13, 16), measured with ONNX Runtime on
/// their validation data. The full tables: tests/ModelCompression.PaletteBench.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelPaletteTests
{
    private static (ModelProto Original, ModelProto Lossless, Reference Reference) Load(string name, MetricKind metric)
    {
        var folder = SharedModels.Folder(name);
        var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless); // Constant nodes become initializers: the weight slots can see them
        var validation = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original);
        return (original, lossless, Reference.Measure(original, name, validation, metric));
    }

    private static (ModelProto Model, double Ratio, double Score) Measure(ModelProto original, ModelProto lossless, Reference reference, params IGraphPass[] passes)
    {
        var model = lossless.Clone();
        foreach (var pass in passes) pass.Apply(model);
        OnnxStructure.Validate(model, string.Join("+", passes.Select(p => p.Name)));
        var ratio = OnnxModelFile.SizeOf(original) / (double)OnnxModelFile.SizeOf(model);
        var score = reference.Evaluate(model, string.Join("+", passes.Select(p => p.Name)));
        TestContext.Current.TestOutputHelper?.WriteLine($"{string.Join(" + ", passes.Select(p => p.Name))}: {ratio:F2}x smaller, score {score:F4} (fp32 {reference.Score:F4})");
        return (model, ratio, score);
    }

    private static Dictionary<string, int> Every(ModelProto model, int bits) =>
        WeightPalettization.EligibleNodes(model).ToDictionary(n => n, _ => bits);

    [Fact]
    public void Fashion_cnn_with_every_layer_at_4_bits_is_about_8_times_smaller_within_half_a_point()
    {
        var (original, lossless, reference) = Load("fashion-cnn", MetricKind.Accuracy);

        // Measured: 7.88x, 0.9111 (fp32 0.9104).
        var (_, ratio, score) = Measure(original, lossless, reference, new WeightPalettization(Every(lossless, 4)));

        Assert.InRange(ratio, 7.5, 8.0);
        Assert.True(score > reference.Score - 0.005, $"accuracy {score} vs {reference.Score}");
    }

    [Fact]
    public void Fashion_cnn_big_gemm_pruned_to_90_percent_with_4_bit_codes_and_6_bit_other_layers_is_over_16_times_smaller()
    {
        var (original, lossless, reference) = Load("fashion-cnn", MetricKind.Accuracy);
        var others = Every(lossless, 6);
        others.Remove("/7/Gemm");
        var pruning = new MagnitudePruning(SparsityTarget.Layers(new Dictionary<string, double> { ["/7/Gemm"] = 0.9 }),
            new Dictionary<string, int> { ["/7/Gemm"] = 4 }, PaletteGranularity.PerChannelGroup, 16);

        // Measured: 16.86x, 0.9082 (fp32 0.9104).
        var (_, ratio, score) = Measure(original, lossless, reference, pruning, new WeightPalettization(others, PaletteGranularity.PerChannelGroup, 16));

        var gemm = Assert.Single(pruning.Outcomes);
        Assert.Equal(0.9, gemm.Sparsity, 1e-6);
        Assert.InRange(8.0 * gemm.MaskedBytes / gemm.Elements, 1.4, 1.45); // 1 + (1 − 0.9)·4 bits per weight, plus palettes and nodes
        Assert.InRange(ratio, 16, 17.5);
        Assert.True(score > reference.Score - 0.01, $"accuracy {score} vs {reference.Score}");
    }

    [Theory]
    [InlineData("ppocr-cls", MetricKind.Accuracy)] // opset 9
    [InlineData("silero-vad", MetricKind.Cosine)] // opset 16, weights inside nested If branches
    public void Models_at_opsets_9_and_16_palettized_at_8_bits_load_run_and_keep_their_score(string name, MetricKind metric)
    {
        var (original, lossless, reference) = Load(name, metric);

        // Measured: ppocr-cls 2.71x, accuracy 0.9400 (fp32 0.9400); silero-vad 3.45x, cosine 0.9996.
        var (_, ratio, score) = Measure(original, lossless, reference, new WeightPalettization(Every(lossless, 8)));

        Assert.True(ratio > 2.5, $"{ratio:F2}x");
        Assert.True(score > reference.Score - 0.01, $"score {score} vs {reference.Score}");
    }
}
