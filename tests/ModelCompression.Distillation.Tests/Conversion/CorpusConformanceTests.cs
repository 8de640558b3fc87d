using System.Diagnostics;
using ModelCompression.Core.Data;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Conversion;
using ModelCompression.Distillation.Native;
using ModelCompression.Testing;

namespace ModelCompression.Distillation.Tests.Conversion;

/// <summary>
/// Issue 9's acceptance on the real models of ../shared/models: every model either converts and matches ONNX Runtime
/// on validation samples, or is refused with a named reason. "Matches": max |student − ORT| ≤ 1e-4 · max(1, max |ORT|)
/// per model, i.e. 1e-4 absolute for outputs of magnitude up to 1 (probabilities) and 1e-4 relative to the output's
/// scale for larger ones (logits), since float32 sums over thousands of products differ in the last bits by order.
/// Measured (3 samples): digits-mlp 3.8e-6, fashion-cnn 2.4e-6, ppocr-cls 2.4e-7, ppocr-rec 7.9e-5 — ppocr-rec's layers
/// each agree to about 2e-6 relative (checked node by node), and its sharp final softmax amplifies that.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public sealed class CorpusConformanceTests
{
    private const int Samples = 3;

    public static readonly string[] Corpus = ["digits-mlp", "fashion-cnn", "ppocr-cls", "ppocr-rec", "silero-vad"];

    /// <summary>The models this converter is expected to cover; a refusal of one of them is a regression.</summary>
    private static readonly string[] Supported = ["digits-mlp", "fashion-cnn", "ppocr-cls", "ppocr-rec"];

    [Fact]
    public void Every_corpus_model_converts_and_matches_onnx_runtime_or_is_refused_with_a_named_reason()
    {
        TorchRuntime.EnsureLoaded();
        var converted = new List<string>();
        var refused = new List<string>();
        var failures = new List<string>();
        foreach (var name in Corpus)
        {
            var folder = SharedModels.Folder(name);
            var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
            var clock = Stopwatch.StartNew();
            // Every float weight trained, as a full fine-tune would: initializers and (ppocr's form) Constant nodes alike.
            var conversion = StudentConverter.TryConvert(model, FloatWeights(model));
            if (!conversion.Converted)
            {
                refused.Add($"{name} ({conversion.Refusal})");
                Assert.False(string.IsNullOrWhiteSpace(conversion.Refusal));
                if (Supported.Contains(name)) failures.Add($"{name} was refused: {conversion.Refusal}");
                if (name == "silero-vad") Assert.Equal("operators not covered: If, LSTM", conversion.Refusal);
                continue;
            }
            using var student = conversion.Student!;
            var (difference, scale) = Compare(student, model, ValidationInputs(folder, model));
            converted.Add($"{name} (max |difference| {difference:G3} at output scale {scale:G3}, {student.NodeCount} nodes, {student.Parameters.Count} trained weights, {clock.Elapsed.TotalSeconds:F1}s)");
            if (difference > 1e-4 * Math.Max(1, scale)) failures.Add($"{name} differs from ONNX Runtime by {difference:G3} (scale {scale:G3})");
        }

        Log("converted: " + string.Join(", ", converted));
        Log("refused: " + (refused.Count == 0 ? "none" : string.Join(", ", refused)));
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Fashion_cnn_with_its_conv_and_gemm_weights_trained_matches_and_gets_gradients()
    {
        var folder = SharedModels.Folder("fashion-cnn");
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var weights = model.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm").SelectMany(n => n.Input.Skip(1)).ToArray();
        TorchRuntime.EnsureLoaded();
        using var student = StudentRuns.Convert(model, weights);
        var inputs = ValidationInputs(folder, model);

        var (difference, scale) = Compare(student, model, inputs);
        Log($"fashion-cnn with {weights.Length} trained weights: max |difference| {difference:G3} at output scale {scale:G3}");
        Assert.True(difference <= 1e-4 * Math.Max(1, scale), $"differs by {difference:G3}");

        using var scope = TorchSharp.torch.NewDisposeScope();
        var tensors = inputs.ToDictionary(p => p.Key, p => TensorValues.ToTensor(p.Value));
        student.Forward(tensors)[0].square().sum().backward();
        Assert.Equal(weights.Length, student.Parameters.Count);
        Assert.All(student.Parameters, p => Assert.True(p.Value.grad!.abs().max().item<float>() > 0, $"{p.Key} got no gradient"));
    }

    [Fact]
    public void Fashion_cnn_after_channel_pruning_and_low_rank_converts_and_matches_with_every_weight_trained()
    {
        var folder = SharedModels.Folder("fashion-cnn");
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var inputs = ValidationInputs(folder, model);
        Assert.True(ChannelPruning.Uniform(model, 0.5).Apply(model) > 0);
        var ranks = LowRankFactorization.EligibleNodes(model).ToDictionary(l => l.Node, _ => 16);
        Assert.True(new LowRankFactorization(ranks).Apply(model) > 0);
        var weights = model.Graph.Initializer.Where(i => i.DataType == (int)DataType.Float).Select(i => i.Name).ToArray();
        TorchRuntime.EnsureLoaded();
        using var student = StudentRuns.Convert(model, weights);

        var (difference, scale) = Compare(student, model, inputs);
        Log($"fashion-cnn pruned 50% and factored at rank 16 ({string.Join(", ", ranks.Keys)}): max |difference| {difference:G3} at output scale {scale:G3}");
        Assert.True(difference <= 1e-4 * Math.Max(1, scale), $"differs by {difference:G3}");
    }

    /// <summary>The float tensors among the initializers and Constant nodes of the main graph (silero-vad's are in subgraphs).</summary>
    private static string[] FloatWeights(ModelProto model) =>
        model.Graph.Initializer.Where(i => i.DataType == (int)DataType.Float).Select(i => i.Name)
            .Concat(model.Graph.Node.Select(ConstantNodes.ValueOf).OfType<TensorProto>().Where(t => t.DataType == (int)DataType.Float).Select(t => t.Name))
            .ToArray();

    /// <summary>The first few validation samples as one batch when the model takes batches, else the first sample.</summary>
    private static IReadOnlyDictionary<string, NdArray> ValidationInputs(string folder, ModelProto model)
    {
        var samples = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, model);
        return samples.CanBatch ? samples.Batch(0, Samples) : samples.Sample(0);
    }

    private static (double Difference, double Scale) Compare(OnnxStudent student, ModelProto model, IReadOnlyDictionary<string, NdArray> inputs)
    {
        var expected = ModelEquivalence.Run(model, inputs);
        var actual = StudentRuns.Run(student, inputs);
        foreach (var (name, value) in expected)
        {
            Assert.Equal(value.ElementType, actual[name].ElementType);
            Assert.Equal(value.Shape.ToArray(), actual[name].Shape.ToArray());
        }
        var scale = expected.Values.Where(v => v.ElementType == DataType.Float).SelectMany(v => v.ToFloats()).Select(Math.Abs).DefaultIfEmpty(0).Max();
        return (OutputComparison.MaxAbsoluteDifference(expected, actual), scale);
    }

    private static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);
}
