using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Evaluation;

/// <summary>Every metric on tiny models whose outputs are known exactly, against hand-computed scores.</summary>
public class MetricTests
{
    // The original passes x through; a candidate adds a bias to the last axis.
    private static ModelProto Identity(params object[] dims) => new OnnxBuilder()
        .Input("x", DataType.Float, dims).Node("Identity", ["x"], ["y"]).Output("y", DataType.Float, dims).Build();

    private static ModelProto AddBias(float[] bias, params object[] dims) => new OnnxBuilder()
        .Input("x", DataType.Float, dims).Initializer("b", bias, bias.Length).Node("Add", ["x", "b"], ["y"]).Output("y", DataType.Float, dims).Build();

    // Two samples: [1, 2, 3] (class 2) and [3, 0, 0] (class 0); labels say 2 and 1.
    private static SampleSet TwoSamples(ModelProto model) => SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray>
    {
        ["x"] = NdArray.Create<float>([2, 3], [1, 2, 3, 3, 0, 0]),
        ["labels"] = NdArray.Create<long>([2], [2, 1]),
    }, model);

    [Fact]
    public void The_standard_error_of_a_share_is_that_of_a_proportion_and_0_for_the_similarity_metrics()
    {
        var original = Identity("N", 3L);

        var accuracy = Reference.Measure(original, "model.onnx", TwoSamples(original), MetricKind.Accuracy);
        var cosine = Reference.Measure(original, "model.onnx", TwoSamples(original), MetricKind.Cosine);

        Assert.Equal(Math.Sqrt(0.5 * 0.5 / 2), accuracy.StandardErrorOf(0.5), 12);
        Assert.Equal(0, accuracy.StandardErrorOf(1.0));
        Assert.Equal(0, cosine.StandardErrorOf(0.9));
    }

    [Fact]
    public void Accuracy_is_the_share_of_samples_whose_top_class_is_the_label()
    {
        var original = Identity("N", 3L);
        var samples = TwoSamples(original);

        var reference = Reference.Measure(original, "model.onnx", samples, MetricKind.Accuracy);

        Assert.Equal(0.5, reference.Score);
        // The bias makes sample 1 pick class 2 instead of 0: still wrong, sample 0 still right.
        Assert.Equal(0.5, reference.Evaluate(AddBias([0, 0, 3.5f], "N", 3L), "candidate"));
        // [1,6,6.5] stays class 2 and [3,4,3.5] moves to class 1: both right.
        Assert.Equal(1.0, reference.Evaluate(AddBias([0, 4, 3.5f], "N", 3L), "candidate"));
    }

    [Fact]
    public void Agreement_is_the_share_of_matching_top_classes()
    {
        var original = Identity("N", 3L);
        var reference = Reference.Measure(original, "model.onnx", TwoSamples(original), MetricKind.Agreement);

        Assert.Equal(1.0, reference.Score);
        Assert.Equal(1.0, reference.Evaluate(AddBias([0, 0, 0.5f], "N", 3L), "small bias"));  // [1,2,3.5] and [3,0,0.5] keep their classes
        Assert.Equal(0.5, reference.Evaluate(AddBias([0, 0, 3.5f], "N", 3L), "large bias"));  // [3,0,3.5] flips to class 2
    }

    [Fact]
    public void Cosine_is_the_mean_similarity_of_each_samples_output()
    {
        var original = Identity("N", 3L);
        var reference = Reference.Measure(original, "model.onnx", TwoSamples(original), MetricKind.Cosine);

        var score = reference.Evaluate(AddBias([0, 0, 0.5f], "N", 3L), "candidate");

        // [1,2,3.5]·[1,2,3] = 15.5, |.|² = 17.25 and 14; [3,0,0.5]·[3,0,0] = 9, |.|² = 9.25 and 9.
        var expected = (15.5 / Math.Sqrt(17.25 * 14) + 9 / Math.Sqrt(9.25 * 9)) / 2;
        Assert.Equal(expected, score, 12);
        Assert.Equal(1.0, reference.Score);
    }

    [Fact]
    public void Mse_is_one_minus_the_error_over_the_originals_variance()
    {
        var original = Identity("N", 3L);
        var reference = Reference.Measure(original, "model.onnx", TwoSamples(original), MetricKind.Mse);

        var score = reference.Evaluate(AddBias([0, 0, 0.5f], "N", 3L), "candidate");

        // Errors: 0.5 on 2 of 6 values → MSE 1/12. Original values 1,2,3,3,0,0: mean 1.5, variance 23/6 − 2.25 = 19/12.
        Assert.Equal(1 - (1.0 / 12) / (19.0 / 12), score, 12);
        // An error larger than the variance scores 0, not below.
        Assert.Equal(0.0, reference.Evaluate(AddBias([0, 0, 10], "N", 3L), "far"));
    }

    [Fact]
    public void Agreement_counts_every_position_of_every_output()
    {
        // x [N, 2, 3] → y1 and y2, each with two positions of three classes per sample.
        var original = new OnnxBuilder().Input("x", DataType.Float, "N", 2L, 3L)
            .Node("Identity", ["x"], ["y1"]).Node("Identity", ["x"], ["y2"])
            .Output("y1", DataType.Float, "N", 2L, 3L).Output("y2", DataType.Float, "N", 2L, 3L).Build();
        var candidate = new OnnxBuilder().Input("x", DataType.Float, "N", 2L, 3L).Initializer("b", [0, 0, 3.5f], 3)
            .Node("Add", ["x", "b"], ["y1"]).Node("Identity", ["x"], ["y2"])
            .Output("y1", DataType.Float, "N", 2L, 3L).Output("y2", DataType.Float, "N", 2L, 3L).Build();
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([1, 2, 3], [1, 2, 3, 3, 0, 0]) }, original);

        var agreement = Reference.Measure(original, "model.onnx", samples, MetricKind.Agreement).Evaluate(candidate, "candidate");
        var cosine = Reference.Measure(original, "model.onnx", samples, MetricKind.Cosine).Evaluate(candidate, "candidate");

        // y1: [1,2,6.5] keeps class 2, [3,0,3.5] flips; y2 is unchanged: 3 of 4 positions agree.
        Assert.Equal(0.75, agreement);
        // Cosine compares each output's whole value per sample, then averages the outputs: y1's, and 1 for y2.
        var y1 = (1 + 4 + 19.5 + 9) / Math.Sqrt((1 + 4 + 42.25 + 9 + 12.25) * (1 + 4 + 9 + 9));
        Assert.Equal((y1 + 1) / 2, cosine, 12);
    }

    [Fact]
    public void Cosine_counts_two_zero_vectors_as_equal_and_one_zero_vector_as_unrelated()
    {
        var original = Identity("N", 3L);
        var zeroing = new OnnxBuilder().Input("x", DataType.Float, "N", 3L).Initializer("z", [0f, 0f, 0f], 3)
            .Node("Mul", ["x", "z"], ["y"]).Output("y", DataType.Float, "N", 3L).Build();
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([2, 3], [0, 0, 0, 1, 2, 3]) }, original);

        var score = Reference.Measure(original, "model.onnx", samples, MetricKind.Cosine).Evaluate(zeroing, "zeroing");

        Assert.Equal(0.5, score);
    }

    [Fact]
    public void Mse_of_an_output_the_original_holds_constant_is_one_only_when_matched()
    {
        var constant = new OnnxBuilder().Input("x", DataType.Float, "N", 3L).Initializer("z", [0f, 0f, 0f], 3)
            .Node("Mul", ["x", "z"], ["y"]).Output("y", DataType.Float, "N", 3L).Build();
        var samples = TwoSamples(constant);
        var reference = Reference.Measure(constant, "model.onnx", samples, MetricKind.Mse);

        Assert.Equal(1.0, reference.Evaluate(constant, "same"));
        Assert.Equal(0.0, reference.Evaluate(Identity("N", 3L), "different"));
    }

    [Fact]
    public void ArgMax_takes_the_first_of_ties_and_a_NaN_as_numpy_does()
    {
        Assert.Equal([1, 0, 2], new OutputValues(new float[] { 0, 5, 5, 1, 1, 1, 0, 1, float.NaN }, 3).ArgMax());
        Assert.Equal(3, new OutputValues(new float[6], 2).Positions);
    }

    [Fact]
    public void Accuracy_without_labels_is_MC2006()
    {
        var model = Identity("N", 3L);
        var samples = SampleSet.FromArrays("unlabelled.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([1, 3], [1, 2, 3]) }, model);

        var error = Assert.Throws<CompressionException>(() => Reference.Measure(model, "model.onnx", samples, MetricKind.Accuracy));

        Assert.Equal(DiagnosticCode.LabelsInvalid, error.Code);
        Assert.Equal("unlabelled.npz", error.File);
        Assert.Contains("no 'labels' array", error.Message);
        Assert.Contains("agreement", error.Message);
        Assert.Equal(MetricKind.Agreement, Metrics.DefaultFor(samples));
    }

    [Fact]
    public void A_label_beyond_the_first_outputs_classes_is_MC2006()
    {
        var model = Identity("N", 3L);
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray>
        {
            ["x"] = NdArray.Create<float>([2, 3], [1, 2, 3, 3, 0, 0]),
            ["labels"] = NdArray.Create<long>([2], [2, 3]),
        }, model);

        var error = Assert.Throws<CompressionException>(() => Reference.Measure(model, "model.onnx", samples, MetricKind.Accuracy));

        Assert.Equal(DiagnosticCode.LabelsInvalid, error.Code);
        Assert.Contains("labels[1] is 3", error.Message);
        Assert.Contains("3 classes (0..2)", error.Message);
        Assert.Equal(MetricKind.Accuracy, Metrics.DefaultFor(samples));
    }

    [Fact]
    public void Accuracy_on_a_sequence_output_is_MC2006()
    {
        var model = Identity("N", 2L, 3L);
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray>
        {
            ["x"] = NdArray.Create<float>([1, 2, 3], [1, 2, 3, 3, 0, 0]),
            ["labels"] = NdArray.Create<long>([1], [0]),
        }, model);

        var error = Assert.Throws<CompressionException>(() => Reference.Measure(model, "model.onnx", samples, MetricKind.Accuracy));

        Assert.Equal(DiagnosticCode.LabelsInvalid, error.Code);
        Assert.Contains("2 vectors of 3 values per sample", error.Message);
    }
}
