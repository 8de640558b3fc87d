using System.Diagnostics;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Evaluation;

/// <summary>
/// The real models of ../shared/models with their validation data: the measured baselines of
/// shared/models/README.md (onnxruntime-node 1.30.0) must come out of this evaluator exactly.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelEvaluationTests
{
    [Theory]
    [InlineData("digits-mlp", 527, 540)]
    [InlineData("fashion-cnn", 9104, 10000)]
    [InlineData("ppocr-cls", 94, 100)]
    public void Reproduces_the_top1_baseline_of_the_labelled_models(string name, int correct, int count)
    {
        var folder = SharedModels.Folder(name);
        var clock = Stopwatch.StartNew();
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var samples = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, model);
        var loaded = clock.Elapsed;

        var reference = Reference.Measure(model, name, samples, Metrics.DefaultFor(samples));

        Log($"{name}: load {loaded.TotalSeconds:F2}s, {samples.Count} samples evaluated in {(clock.Elapsed - loaded).TotalSeconds:F2}s (batched: {samples.CanBatch})");
        Assert.Equal(MetricKind.Accuracy, reference.Metric);
        Assert.Equal(count, samples.Count);
        Assert.Equal(correct, (int)Math.Round(reference.Score * count));
        Assert.Equal((double)correct / count, reference.Score, 4);
    }

    [Fact]
    public void Silero_vad_runs_per_sample_agrees_with_itself_and_reproduces_its_frame_F1()
    {
        var folder = SharedModels.Folder("silero-vad");
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var samples = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, model);
        var clock = Stopwatch.StartNew();

        var reference = Reference.Measure(model, "silero-vad", samples, Metrics.DefaultFor(samples));
        var measured = clock.Elapsed;
        var self = reference.Evaluate(model, "silero-vad");
        Log($"silero-vad: reference {measured.TotalSeconds:F2}s, candidate {(clock.Elapsed - measured).TotalSeconds:F2}s for {samples.Count} samples");

        Assert.False(samples.CanBatch);
        Assert.Equal(MetricKind.Agreement, reference.Metric);
        Assert.Equal(["output", "stateN"], reference.OutputNames);
        Assert.Equal(1.0, reference.Score);
        Assert.Equal(1.0, self);

        // The task metric of the README: speech when the probability exceeds 0.5, F1 against the frame labels.
        using var stream = File.OpenRead(Path.Combine(folder, "validation.frame_labels.npy"));
        var speech = Npy.Read(stream, "validation.frame_labels.npy", "frame_labels").AsSpan<bool>().ToArray();
        var predicted = new bool[samples.Count];
        using (var evaluator = new Evaluator(model, "silero-vad"))
            evaluator.Run(samples, (i, outputs) => predicted[i] = outputs[0].Values.Span[0] > 0.5f);
        var truePositives = predicted.Zip(speech).Count(p => p.First && p.Second);
        double precision = (double)truePositives / predicted.Count(p => p), recall = (double)truePositives / speech.Count(s => s);
        Assert.Equal(0.96607, 2 * precision * recall / (precision + recall), 5);
    }

    [Fact]
    public void Ppocr_rec_batches_its_dynamic_width_input_agrees_with_itself_and_reproduces_its_CER()
    {
        var folder = SharedModels.Folder("ppocr-rec");
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var samples = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, model);
        var clock = Stopwatch.StartNew();

        var reference = Reference.Measure(model, "ppocr-rec", samples, Metrics.DefaultFor(samples));
        var measured = clock.Elapsed;
        var self = reference.Evaluate(model, "ppocr-rec");
        Log($"ppocr-rec: reference {measured.TotalSeconds:F2}s, candidate {(clock.Elapsed - measured).TotalSeconds:F2}s for {samples.Count} samples");

        Assert.True(samples.CanBatch);
        Assert.Equal(MetricKind.Agreement, reference.Metric);
        Assert.Equal(1.0, reference.Score);
        Assert.Equal(1.0, self);

        // Batched for real: [40, 6625] floats (1.06 MB) per sample caps batches at 15 within 16 MB; 20 samples take 1 + 15 + 4
        // (without the cap on inputs, which makes its 184 KB lines run one at a time).
        var first20 = samples.Subset(Enumerable.Range(0, 20));
        using (var evaluator = new Evaluator(model, "ppocr-rec", new EvaluationOptions { MaxBatchInputBytes = long.MaxValue }))
        {
            evaluator.Run(first20, (i, outputs) => Assert.Equal(reference.ArgMaxOf(0, i), outputs[0].ArgMax()));
            Assert.Equal(3, evaluator.RunCount);
        }

        // The task metric of the README from the reference's stored argmax: CTC greedy decoding, then character error rate.
        var keys = File.ReadAllLines(Path.Combine(folder, "ppocr_keys_v1.txt"));
        var alphabet = new[] { "" }.Concat(keys).Append(" ").ToArray(); // 0 = blank, 6624 = space
        var truths = File.ReadAllText(Path.Combine(folder, "validation.texts.txt")).Split('\n')[..samples.Count];
        var edits = 0;
        for (var i = 0; i < samples.Count; i++)
        {
            var steps = reference.ArgMaxOf(0, i).ToArray();
            Assert.Equal(40, steps.Length);
            var text = string.Concat(steps.Where((c, t) => c != 0 && (t == 0 || steps[t - 1] != c)).Select(c => alphabet[c]));
            edits += Levenshtein(text, truths[i]);
        }
        Assert.Equal(12, edits);
        Assert.Equal(0.00731, (double)edits / truths.Sum(t => t.Length), 5);
    }

    private static int Levenshtein(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    private static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);
}
