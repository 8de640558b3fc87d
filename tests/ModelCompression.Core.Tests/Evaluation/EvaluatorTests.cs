using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Evaluation;

public class EvaluatorTests
{
    private const int Features = 8, Hidden = 16, Classes = 5, Count = 150;

    [Theory]
    [InlineData(100, 100, 64)]          // small samples: the batch size
    [InlineData(4096, 100, 8)]          // 32 KB of inputs
    [InlineData(100, 1 << 20, 16)]      // 16 MB of outputs
    [InlineData(1 << 20, 1 << 30, 1)]   // one sample beyond both caps still runs
    public void Batches_hold_at_most_the_inputs_and_outputs_the_options_allow_and_at_least_one_sample(long inputBytes, long outputBytes, int expected) =>
        Assert.Equal(expected, EvaluationOptions.Default.BatchSizeFor(inputBytes, outputBytes));

    // A random two-layer MLP x [N, 8] → logits [N, 5]; noise > 0 perturbs its first layer's weights.
    private static ModelProto Mlp(double noise = 0)
    {
        var random = new Random(7);
        var noiseRandom = new Random(99);
        float[] Weights(int n) => Enumerable.Range(0, n).Select(_ => (float)(Gaussian(random) + noise * Gaussian(noiseRandom))).ToArray();
        return new OnnxBuilder()
            .Input("x", DataType.Float, "N", (long)Features)
            .Initializer("w1", Weights(Features * Hidden), Features, Hidden)
            .Initializer("w2", Enumerable.Range(0, Hidden * Classes).Select(_ => (float)Gaussian(random)).ToArray(), Hidden, Classes)
            .Node("MatMul", ["x", "w1"], ["h"]).Node("Relu", ["h"], ["r"]).Node("MatMul", ["r", "w2"], ["logits"])
            .Output("logits", DataType.Float, "N", (long)Classes)
            .Build();
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    // Random inputs; labels are the original's class for most samples, a wrong one for every fifth.
    private static SampleSet Data(ModelProto model)
    {
        var random = new Random(3);
        var x = NdArray.Create<float>([Count, Features], Enumerable.Range(0, Count * Features).Select(_ => (float)Gaussian(random)).ToArray());
        using var runner = new ModelRunner(model, "model");
        var logits = runner.Run(new Dictionary<string, NdArray> { ["x"] = x })["logits"].ToFloats();
        var labels = Enumerable.Range(0, Count).Select(i => (long)((OutputValues.ArgMaxOf(logits.AsSpan(i * Classes, Classes)) + (i % 5 == 0 ? 1 : 0)) % Classes)).ToArray();
        return SampleSet.FromArrays("mlp.npz", new Dictionary<string, NdArray> { ["x"] = x, ["labels"] = NdArray.Create<long>([Count], labels) }, model);
    }

    [Theory]
    [InlineData(MetricKind.Agreement)]
    [InlineData(MetricKind.Cosine)]
    [InlineData(MetricKind.Mse)]
    public void The_original_scores_one_against_itself_and_a_perturbed_model_lower(MetricKind metric)
    {
        var original = Mlp();
        var reference = Reference.Measure(original, "mlp.onnx", Data(original), metric);

        var self = reference.Evaluate(original, "itself");
        var perturbed = reference.Evaluate(Mlp(noise: 0.3), "perturbed");

        Assert.Equal(1.0, reference.Score);
        Assert.Equal(1.0, self, 12);
        Assert.InRange(perturbed, 0.3, 0.99);
    }

    [Fact]
    public void Accuracy_of_the_original_matches_its_labels_and_drops_when_perturbed()
    {
        var original = Mlp();
        var reference = Reference.Measure(original, "mlp.onnx", Data(original), MetricKind.Accuracy);

        Assert.Equal(0.8, reference.Score, 12); // every fifth label was made wrong
        Assert.Equal(0.8, reference.Evaluate(original, "itself"), 12);
        Assert.True(reference.Evaluate(Mlp(noise: 0.5), "perturbed") < 0.8);
    }

    [Theory]
    [InlineData(MetricKind.Accuracy)]
    [InlineData(MetricKind.Agreement)]
    [InlineData(MetricKind.Cosine)]
    [InlineData(MetricKind.Mse)]
    public void Batched_and_one_at_a_time_evaluation_give_the_same_scores(MetricKind metric)
    {
        var original = Mlp();
        var samples = Data(original);
        var candidate = Mlp(noise: 0.3);

        var batched = Reference.Measure(original, "mlp.onnx", samples, metric, new EvaluationOptions { BatchSize = 64 });
        var single = Reference.Measure(original, "mlp.onnx", samples, metric, new EvaluationOptions { BatchSize = 1 });

        Assert.True(samples.CanBatch);
        Assert.Equal(single.Score, batched.Score);
        Assert.Equal(single.Evaluate(candidate, "candidate"), batched.Evaluate(candidate, "candidate"));
    }

    [Theory]
    [InlineData(64, 16 << 20, 4)] // 150 samples: 1, then batches of 64, 64 and 21
    [InlineData(64, 100, 31)]     // 20 output bytes per sample: 1, then 30 batches of 5 (the last of 4)
    [InlineData(7, 16 << 20, 23)] // 1, then 21 batches of 7 and one of 2
    public void Batches_hand_out_each_samples_own_outputs(int batchSize, long maxBatchOutputBytes, int runs)
    {
        var model = Mlp();
        var samples = Data(model);
        var batched = Collect(model, samples, new EvaluationOptions { BatchSize = batchSize, MaxBatchOutputBytes = maxBatchOutputBytes }, runs);
        var single = Collect(model, samples, new EvaluationOptions { BatchSize = 1 }, Count);

        Assert.Equal(Count, batched.Count);
        for (var i = 0; i < Count; i++) Assert.Equal(single[i], batched[i]);
    }

    [Fact]
    public void An_output_whose_axis_0_is_not_the_batch_falls_back_to_one_sample_at_a_time()
    {
        // y = x flattened to [3N]: axis 0 is free, so nothing says it is not the batch until a run shows [3] for one sample.
        var model = new OnnxBuilder().Input("x", DataType.Float, "N", 3L).Initializer("s", NdArray.Create<long>([1], [-1]))
            .Node("Reshape", ["x", "s"], ["y"]).Output("y", DataType.Float, "M").Build();
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray>
        {
            ["x"] = NdArray.Create<float>([5, 3], Enumerable.Range(0, 15).Select(i => (float)i).ToArray()),
        }, model);

        var outputs = Collect(model, samples, EvaluationOptions.Default, runs: 1 + 5); // the try with one sample, then one by one

        Assert.Equal(5, outputs.Count);
        Assert.Equal(new[] { 6f, 7f, 8f }, outputs[2]);
    }

    [Fact]
    public void A_subset_is_scored_against_the_originals_score_on_the_same_samples()
    {
        var original = Mlp();
        var samples = Data(original);
        var reference = Reference.Measure(original, "mlp.onnx", samples, MetricKind.Accuracy);
        var (search, rest) = samples.Split(50);

        var expected = Enumerable.Range(0, search.Count).Count(i => search.SourceIndex(i) % 5 != 0) / 50.0;
        Assert.Equal(expected, reference.ScoreOn(search), 12);
        Assert.Equal(reference.ScoreOn(search), reference.Evaluate(original, "itself", search), 12);
        Assert.Equal(reference.ScoreOn(rest), reference.Evaluate(original, "itself", rest), 12);
    }

    [Fact]
    public void Samples_the_reference_never_saw_are_refused()
    {
        var original = Mlp();
        var samples = Data(original);
        var (search, rest) = samples.Split(50);
        var reference = Reference.Measure(original, "mlp.onnx", search, MetricKind.Agreement);

        Assert.Throws<ArgumentException>(() => reference.Evaluate(original, "itself", rest));
        Assert.Throws<ArgumentException>(() => reference.Evaluate(original, "itself", Data(original)));
    }

    [Fact]
    public void A_candidate_whose_outputs_changed_is_MC9001()
    {
        var original = Mlp();
        var reference = Reference.Measure(original, "mlp.onnx", Data(original), MetricKind.Agreement);
        var renamed = Mlp();
        renamed.Graph.Node[^1].Output[0] = "scores";
        renamed.Graph.Output[0].Name = "scores";

        var error = Assert.Throws<CompressionException>(() => reference.Evaluate(renamed, "renamed"));

        Assert.Equal(DiagnosticCode.InternalError, error.Code);
        Assert.Contains("[scores]", error.Message);
    }

    [Fact]
    public void A_model_onnx_runtime_cannot_load_is_MC1003_naming_it()
    {
        var broken = new OnnxBuilder().Input("x", DataType.Float, "N", 3L).Node("NoSuchOperator", ["x"], ["y"]).Output("y", DataType.Float, "N", 3L).Build();
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([1, 3], [1, 2, 3]) }, broken);

        var error = Assert.Throws<CompressionException>(() => Reference.Measure(broken, "broken.onnx", samples, MetricKind.Agreement));

        Assert.Equal(DiagnosticCode.ModelUnsupported, error.Code);
        Assert.Equal("broken.onnx", error.File);
    }

    [Fact]
    public void A_failure_while_running_is_MC1003_naming_the_samples()
    {
        // Reshape to [2, -1] fails for a batch-1 input of 3 values.
        var model = new OnnxBuilder().Input("x", DataType.Float, "N", 3L).Initializer("s", NdArray.Create<long>([2], [2, -1]))
            .Node("Reshape", ["x", "s"], ["y"]).Output("y", DataType.Float, 2L, null).Build();
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([1, 3], [1, 2, 3]) }, model);

        var error = Assert.Throws<CompressionException>(() => Reference.Measure(model, "reshape.onnx", samples, MetricKind.Agreement));

        Assert.Equal(DiagnosticCode.ModelUnsupported, error.Code);
        Assert.Contains("sample 0 of 'd.npz'", error.Message);
    }

    private static List<float[]> Collect(ModelProto model, SampleSet samples, EvaluationOptions options, int runs)
    {
        var outputs = new List<float[]>();
        using var evaluator = new Evaluator(model, "model.onnx", options);
        evaluator.Run(samples, (index, values) =>
        {
            Assert.Equal(outputs.Count, index);
            outputs.Add(values[0].Values.ToArray());
        });
        Assert.Equal(runs, evaluator.RunCount);
        return outputs;
    }
}
