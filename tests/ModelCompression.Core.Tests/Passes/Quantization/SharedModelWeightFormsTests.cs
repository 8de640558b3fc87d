using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Quantization;

/// <summary>The weight forms on the real models of ../shared/models, measured with ONNX Runtime on their validation data.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelWeightFormsTests
{
    private static (ModelProto Original, ModelProto Lossless, SampleSet Validation) Load(string name)
    {
        var folder = SharedModels.Folder(name);
        var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless); // Constant nodes become initializers: the weight slots can see them
        return (original, lossless, SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original));
    }

    private static ModelProto With(ModelProto model, params IGraphPass[] passes)
    {
        var copy = model.Clone();
        foreach (var pass in passes) pass.Apply(copy);
        OnnxStructure.Validate(copy, string.Join("+", passes.Select(p => p.Name)));
        return copy;
    }

    // Frame F1 at probability 0.5 against validation.frame_labels.npy, and the largest change of the probability.
    private static (double F1, double MaxChange) SileroFrames(ModelProto original, ModelProto candidate, SampleSet samples)
    {
        using var stream = File.OpenRead(Path.Combine(SharedModels.Folder("silero-vad"), "validation.frame_labels.npy"));
        var speech = Npy.Read(stream, "validation.frame_labels.npy", "frame_labels").AsSpan<bool>().ToArray();
        var expected = Probabilities(original, samples);
        var actual = Probabilities(candidate, samples);
        var predicted = actual.Select(p => p > 0.5f).ToArray();
        var truePositives = predicted.Zip(speech).Count(p => p.First && p.Second);
        double precision = (double)truePositives / predicted.Count(p => p), recall = (double)truePositives / speech.Count(s => s);
        return (2 * precision * recall / (precision + recall), expected.Zip(actual, (e, a) => (double)Math.Abs(e - a)).Max());
    }

    private static float[] Probabilities(ModelProto model, SampleSet samples)
    {
        var probabilities = new float[samples.Count];
        using var evaluator = new Evaluator(model, "silero-vad");
        evaluator.Run(samples, (i, outputs) => probabilities[i] = outputs[0].Values.Span[0]);
        return probabilities;
    }

    [Fact]
    public void Silero_vad_int8_weights_reach_its_lstm_inside_nested_if_branches_and_keep_its_outputs()
    {
        var (original, lossless, validation) = Load("silero-vad");
        var reference = Reference.Measure(original, "silero-vad", validation, MetricKind.Cosine);

        var int8 = With(lossless, new Int8WeightQuantization());

        // Both sample-rate branches, each with its encoder convolutions and the LSTM W and R its two decoder branches share.
        var eligible = Int8WeightQuantization.Eligible(lossless);
        Assert.Equal(4, eligible.Where(w => w.Node.OpType == "LSTM").Select(w => w.Node.Name).Distinct().Count());
        Assert.Equal(4, eligible.Where(w => w.Node.OpType == "LSTM").Select(w => (w.Owner!.Proto, w.Initializer.Name)).Distinct().Count());
        Assert.All(eligible.Where(w => w.Node.OpType == "LSTM"), w => Assert.False(w.IsDirect)); // gates reordered by Slice/Concat
        var ratio = OnnxModelFile.SizeOf(original) / (double)OnnxModelFile.SizeOf(int8);
        var cosine = reference.Evaluate(int8, "int8");
        var (f1, maxChange) = SileroFrames(original, int8, validation);
        // The LSTMs alone (the weights inside the nested If branches): their int8 weights barely move the probability.
        var lstmOnly = With(lossless, new Int8WeightQuantization(eligible.Where(w => w.Node.OpType == "LSTM").Select(w => w.Node.Name).ToHashSet()));
        var (lstmF1, lstmMaxChange) = SileroFrames(original, lstmOnly, validation);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"silero-vad int8: {OnnxModelFile.SizeOf(original)} -> {OnnxModelFile.SizeOf(int8)} bytes ({ratio:F2}x), cosine {cosine:F6}, " +
            $"frame F1 {f1:F5} (fp32 0.96607), max |Δp| {maxChange:F4}; LSTMs only: {OnnxModelFile.SizeOf(lstmOnly)} bytes, F1 {lstmF1:F5}, max |Δp| {lstmMaxChange:F4}");
        Assert.InRange(ratio, 3.2, 4.0);
        Assert.True(cosine > 0.9995, $"cosine {cosine}");
        Assert.InRange(f1, 0.95607, 1.0);
        Assert.True(lstmMaxChange < 0.05, $"max |Δp| {lstmMaxChange}");
        Assert.InRange(lstmF1, 0.96, 0.97);
        // W and R [512, 128] of each sample-rate branch: 4 × 65,536 floats stored in 1 byte instead of 4.
        Assert.InRange(OnnxModelFile.SizeOf(lossless) - OnnxModelFile.SizeOf(lstmOnly), 0.97 * 4 * 65536 * 3, 4 * 65536 * 3);
    }

    [Fact]
    public void Silero_vad_fp16_weights_halve_the_weights_and_keep_its_outputs()
    {
        var (original, lossless, validation) = Load("silero-vad");
        var reference = Reference.Measure(original, "silero-vad", validation, MetricKind.Cosine);

        var fp16 = With(lossless, new Fp16WeightConversion());

        var ratio = OnnxModelFile.SizeOf(original) / (double)OnnxModelFile.SizeOf(fp16);
        var cosine = reference.Evaluate(fp16, "fp16");
        var (f1, maxChange) = SileroFrames(original, fp16, validation);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"silero-vad fp16: {OnnxModelFile.SizeOf(fp16)} bytes ({ratio:F2}x), cosine {cosine:F7}, frame F1 {f1:F5}, max |Δp| {maxChange:F5}");
        Assert.InRange(ratio, 1.8, 2.0);
        Assert.True(cosine > 0.99999, $"cosine {cosine}");
        Assert.True(maxChange < 0.01, $"max |Δp| {maxChange}");
    }

    [Fact]
    public void Fashion_cnn_with_int4_gemms_and_int8_convolutions_is_over_six_times_smaller_within_one_point()
    {
        var (original, lossless, validation) = Load("fashion-cnn");
        var reference = Reference.Measure(original, "fashion-cnn", validation, MetricKind.Accuracy);

        var compressed = With(lossless, new Int4WeightQuantization(settings: new Int4Settings(BlockSize: 64)), new Int8WeightQuantization());

        Assert.Equal(2, OnnxWalk.Graphs(compressed).SelectMany(g => g.Node).Count(n => n.OpType == "MatMulNBits"));
        var ratio = OnnxModelFile.SizeOf(original) / (double)OnnxModelFile.SizeOf(compressed);
        var accuracy = reference.Evaluate(compressed, "int4+int8");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"fashion-cnn int4 (block 64) + int8: {OnnxModelFile.SizeOf(compressed)} bytes ({ratio:F2}x), accuracy {accuracy:F4} (fp32 {reference.Score:F4})");
        Assert.True(ratio >= 6, $"{ratio:F2}x");
        Assert.True(reference.Score - accuracy <= 0.01, $"accuracy {accuracy} vs {reference.Score}");
    }
}
