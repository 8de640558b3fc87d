using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

/// <summary>
/// The lossless pipeline on the real models of ../shared/models, fed deterministic synthetic inputs of the
/// right shapes (validation.npz samples once the .npz reader lands), checked against ONNX Runtime on the original.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class RealModelPipelineTests
{
    private static IReadOnlyList<Dictionary<string, NdArray>> SamplesFor(string model) => model switch
    {
        "digits-mlp" => [new() { ["input"] = Random(1, 2, 64) }],
        "fashion-cnn" => [new() { ["input"] = Random(1, 2, 1, 28, 28) }],
        "ppocr-cls" => [new() { ["x"] = Random(1, 1, 3, 48, 192) }],
        "ppocr-rec" => [new() { ["x"] = Random(1, 1, 3, 48, 320) }],
        // Both top-level branches: 16 kHz frames of 576 samples and 8 kHz frames of 288.
        "silero-vad" =>
        [
            new() { ["input"] = Random(1, 1, 576), ["state"] = Random(2, 2, 1, 128), ["sr"] = SyntheticInputs.Scalar(16000) },
            new() { ["input"] = Random(3, 1, 288), ["state"] = Random(4, 2, 1, 128), ["sr"] = SyntheticInputs.Scalar(8000) },
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(model)),
    };

    [Theory]
    [InlineData("digits-mlp")]
    [InlineData("fashion-cnn")]
    [InlineData("ppocr-cls")]
    [InlineData("ppocr-rec")]
    [InlineData("silero-vad")]
    public void The_pipeline_keeps_real_models_outputs(string name)
    {
        var model = OnnxModelFile.Load(Path.Combine(SharedModels.Folder(name), "model.onnx"));
        var rewritten = model.Clone();

        var report = new LosslessPipeline().Run(rewritten);

        Assert.False(report.AnySkipped, report.ToString());
        foreach (var sample in SamplesFor(name))
        {
            var expected = ModelEquivalence.Run(model, sample);
            var actual = ModelEquivalence.Run(rewritten, sample);
            var differences = OutputComparison.Differences(expected, actual, Tolerance.Tight);
            Assert.True(differences.Count == 0, string.Join("\n", differences));
            TestContext.Current.TestOutputHelper?.WriteLine($"max |difference| {OutputComparison.MaxAbsoluteDifference(expected, actual):G3}");
        }
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}: nodes {NodeCount(model)} -> {NodeCount(rewritten)}, initializers {InitializerCount(model)} -> {InitializerCount(rewritten)}, " +
            $"Constant nodes {Count(model, "Constant")} -> {Count(rewritten, "Constant")}, " +
            $"bytes {OnnxModelFile.SizeOf(model)} -> {OnnxModelFile.SizeOf(rewritten)}\n  {report}");

        switch (name)
        {
            case "ppocr-cls":
                Assert.Equal(35, Count(model, "BatchNormalization"));
                Assert.Equal(35, report.Passes.Single(p => p.Pass == "fold-batchnorm").Rewrites);
                Assert.Equal(0, Count(rewritten, "BatchNormalization"));
                Assert.Equal(0, Count(rewritten, "Constant"));
                break;
            case "ppocr-rec":
                Assert.Equal(0, Count(rewritten, "BatchNormalization"));
                Assert.Equal(0, Count(rewritten, "Constant"));
                break;
            case "silero-vad":
                // The recurrent core inside the nested If branches stays intact.
                Assert.Equal(Count(model, "LSTM"), Count(rewritten, "LSTM"));
                Assert.Equal(Count(model, "If"), Count(rewritten, "If"));
                Assert.Equal(Count(model, "Conv"), Count(rewritten, "Conv"));
                Assert.True(NodeCount(rewritten) < NodeCount(model));
                break;
        }
    }

    private static int NodeCount(ModelProto model) => OnnxWalk.Graphs(model).Sum(g => g.Node.Count);

    private static int InitializerCount(ModelProto model) => OnnxWalk.Graphs(model).Sum(g => g.Initializer.Count);
}
