using Google.Protobuf;
using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.BiasCorrection;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.BiasCorrection.BiasCorrectionTestKit;

namespace ModelCompression.Core.Tests.Passes.BiasCorrection;

public class EmpiricalBiasCorrectionTests
{
    // x [N, 8, 6, 6] → Conv 3×3 8→12 (bias, pad 1) → y.
    private static ModelProto ConvLayer() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 8, 6, 6)
        .Initializer("w", NdArray.Create<float>([12, 8, 3, 3], BiasedWeights(12, 72, outputsFirst: true, seed: 3)))
        .Initializer("b", SyntheticInputs.Uniform([12], 4))
        .Node("Conv", ["x", "w", "b"], ["y"], "conv", ("pads", new long[] { 1, 1, 1, 1 }))
        .Output("y", DataType.Float, "N", 12, 6, 6)
        .Build();

    // x [N, 32] → Gemm 32→24 "fc" → Relu → Gemm 24→8 "head" → y.
    private static ModelProto TwoGemms() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 32)
        .Initializer("w", SyntheticInputs.Uniform([32, 24], 1)).Initializer("b", SyntheticInputs.Uniform([24], 2))
        .Initializer("w2", SyntheticInputs.Uniform([24, 8], 3)).Initializer("b2", SyntheticInputs.Uniform([8], 4))
        .Node("Gemm", ["x", "w", "b"], ["h"], "fc")
        .Node("Relu", ["h"], ["r"], "relu")
        .Node("Gemm", ["r", "w2", "b2"], ["y"], "head")
        .Output("y", DataType.Float, "N", 8)
        .Build();

    /// <summary>Per channel (axis <paramref name="axis"/>), the mean of reference − model over samples and positions, and the overall mean squared error.</summary>
    private static (double[] MeanError, double Mse) Errors(ModelProto reference, ModelProto model, SampleSet samples, string output, int axis)
    {
        var feed = samples.Batch(0, samples.Count);
        var expected = ModelEquivalence.Run(Calibrator.WithOutputs(reference, [output], out _), feed)[output];
        var actual = ModelEquivalence.Run(Calibrator.WithOutputs(model, [output], out _), feed)[output].ToFloats();
        var e = expected.ToFloats();
        var shape = expected.Shape.ToArray();
        var channels = (int)shape[axis];
        var inner = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        var sums = new double[channels];
        for (var i = 0; i < e.Length; i++) sums[(int)(i / inner % channels)] += e[i] - actual[i];
        var perChannel = e.Length / channels;
        return (sums.Select(s => s / perChannel).ToArray(), e.Zip(actual, (a, b) => (double)(a - b) * (a - b)).Average());
    }

    private static ModelProto Apply(IGraphPass pass, ModelProto model)
    {
        var copy = model.Clone();
        pass.Apply(copy);
        OnnxStructure.Validate(copy, pass.Name);
        return copy;
    }

    [Fact]
    public void A_gemm_whose_int8_error_has_a_known_mean_is_corrected_to_a_mean_error_of_zero()
    {
        var reference = GemmLayer();
        var quantized = Apply(new Int8WeightQuantization(), reference);
        var calibration = Samples(reference, 5, 256, 32);
        var test = Samples(reference, 6, 256, 32);
        var (meanBefore, mseBefore) = Errors(reference, quantized, calibration, "h", 1);
        // Each of the 31 weights off the grid loses 0.4·step against inputs of mean 0.5.
        Assert.All(meanBefore, m => Assert.InRange(m, 0.8 * 31 * 0.4 * Step * 0.5, 1.2 * 31 * 0.4 * Step * 0.5));

        var pass = new EmpiricalBiasCorrection(calibration, reference);
        var corrected = Apply(pass, quantized);

        var (meanAfter, mseAfter) = Errors(reference, corrected, calibration, "h", 1);
        Assert.All(meanAfter, m => Assert.True(Math.Abs(m) < 1e-4, $"mean error {m} after correction"));
        Assert.True(mseAfter < 0.5 * mseBefore, $"MSE {mseBefore} → {mseAfter}");
        var (_, testBefore) = Errors(reference, quantized, test, "y", 1);
        var (_, testAfter) = Errors(reference, corrected, test, "y", 1);
        Assert.True(testAfter < 0.5 * testBefore, $"on other samples: output MSE {testBefore} → {testAfter}");
        Assert.Equal("fc", Assert.Single(pass.Corrections).Node);
        Assert.True(pass.Check!.Kept && pass.Check.ErrorAfter < pass.Check.ErrorBefore);
        Assert.Equal(["Cast", "Mul", "Gemm", "Relu"], corrected.Graph.Node.Select(n => n.OpType)); // the bias moved; nothing was added
    }

    [Fact]
    public void A_convolution_is_corrected_per_output_channel_over_every_position()
    {
        var reference = ConvLayer();
        var quantized = Apply(new Int8WeightQuantization(), reference);
        var calibration = Samples(reference, 7, 64, 8, 6, 6);
        var (meanBefore, mseBefore) = Errors(reference, quantized, calibration, "y", 1);

        var corrected = Apply(new EmpiricalBiasCorrection(calibration, reference), quantized);

        var (meanAfter, mseAfter) = Errors(reference, corrected, calibration, "y", 1);
        Assert.All(meanBefore, m => Assert.True(m > 0.05, $"mean error {m} before"));
        Assert.All(meanAfter, m => Assert.True(Math.Abs(m) < 1e-4, $"mean error {m} after"));
        Assert.True(mseAfter < 0.5 * mseBefore);
    }

    [Fact]
    public void A_static_int8_convolution_is_corrected_in_its_int32_bias()
    {
        var reference = ConvLayer();
        var calibration = Samples(reference, 7, 64, 8, 6, 6);
        var quantized = Apply(new Int8StaticQuantization(calibration), reference);
        var biasCodes = quantized.Graph.Initializer.Single(t => t.DataType == (int)DataType.Int32).Name;
        var (_, mseBefore) = Errors(reference, quantized, calibration, "y", 1);

        var pass = new EmpiricalBiasCorrection(calibration, reference);
        var corrected = Apply(pass, quantized);

        Assert.True(pass.Corrections.Count == 1, string.Join("; ", pass.Skipped));
        var (meanAfter, mseAfter) = Errors(reference, corrected, calibration, "y", 1);
        Assert.True(mseAfter < 0.5 * mseBefore, $"MSE {mseBefore} → {mseAfter}");
        Assert.All(meanAfter, m => Assert.True(Math.Abs(m) < 0.01, $"mean error {m} after"));
        Assert.Equal(quantized.Graph.Node.Select(n => n.OpType), corrected.Graph.Node.Select(n => n.OpType)); // still QDQ
        Assert.NotEqual(quantized.Graph.Initializer.Single(t => t.Name == biasCodes), corrected.Graph.Initializer.Single(t => t.Name == biasCodes));
    }

    [Fact]
    public void Int4_and_dynamic_int8_layers_are_corrected_where_their_kernels_take_a_bias()
    {
        var reference = GemmLayer();
        var calibration = Samples(reference, 5, 256, 32);
        foreach (var pass in new IGraphPass[]
                 {
                     new Int4WeightQuantization(minElements: 1), new Int8DynamicQuantization(minElements: 1),
                     new Int8DynamicQuantization(form: DynamicQuantizationForm.Fused, minElements: 1),
                 })
        {
            var quantized = Apply(pass, reference);
            var correction = new EmpiricalBiasCorrection(calibration, reference);
            var corrected = Apply(correction, quantized);

            var (_, before) = Errors(reference, quantized, calibration, "h", 1);
            var (meanAfter, after) = Errors(reference, corrected, calibration, "h", 1);
            Assert.True(after < before, $"{pass.Name}: MSE {before} → {after}");
            Assert.All(meanAfter, m => Assert.True(Math.Abs(m) < 1e-3, $"{pass.Name}: mean error {m}"));
            Assert.Equal(quantized.Graph.Node.Count, corrected.Graph.Node.Count);
        }
    }

    [Fact]
    public void A_bare_matmul_gets_an_add_only_when_its_mean_error_is_worth_a_new_bias()
    {
        ModelProto Layer(float offset) => new OnnxBuilder()
            .Input("x", DataType.Float, "N", 32)
            .Initializer("w", NdArray.Create<float>([32, 16], BiasedWeights(16, 32, outputsFirst: false, seed: 1).Select(v => v + offset).ToArray()))
            .Node("MatMul", ["x", "w"], ["y"], "proj")
            .Output("y", DataType.Float, "N", 16)
            .Build();
        var reference = Layer(0);
        var calibration = Samples(reference, 5, 256, 32);

        var shifted = new EmpiricalBiasCorrection(calibration, reference);
        var corrected = Apply(shifted, Layer(0.01f)); // every weight 0.01 too big: a mean error of −0.16 per output
        var barely = new EmpiricalBiasCorrection(calibration, reference);
        var unchanged = Apply(barely, Layer(1e-6f));

        Assert.Equal(["MatMul", "Add"], corrected.Graph.Node.Select(n => n.OpType));
        Assert.Equal("y", corrected.Graph.Node[1].Output[0]);
        Assert.True(Errors(reference, corrected, calibration, "y", 1).Mse < 0.05 * Errors(reference, Layer(0.01f), calibration, "y", 1).Mse);
        Assert.True(Assert.Single(shifted.Corrections).NewBias);
        Assert.Equal(Layer(1e-6f), unchanged);
        Assert.Contains("would not pay", Assert.Single(barely.Skipped).Reason);
    }

    [Fact]
    public void Corrections_that_make_the_outputs_worse_on_the_calibration_samples_are_undone()
    {
        // Relu(Gemm): the reference gives −5 (half the samples) or 1; the model −3 or 1. Relu hides the error, but its
        // mean before Relu is −1, and shifting by it would turn the 1s into 0s.
        ModelProto Layer(float weight) => new OnnxBuilder()
            .Input("x", DataType.Float, "N", 2)
            .Initializer("w", [weight, 1f], 2, 1)
            .Node("Gemm", ["x", "w"], ["h"], "fc")
            .Node("Relu", ["h"], ["y"], "relu")
            .Output("y", DataType.Float, "N", 1)
            .Build();
        var reference = Layer(-6);
        var x = Enumerable.Range(0, 64).SelectMany(i => new[] { i % 2 == 0 ? 1f : 0f, 1f }).ToArray();
        var calibration = SampleSet.FromArrays("samples.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([64, 2], x) }, reference);
        var model = Layer(-4);

        var pass = new EmpiricalBiasCorrection(calibration, reference);
        var result = Apply(pass, model);

        Assert.Equal(model, result);
        Assert.False(pass.Check!.Kept);
        Assert.Equal(0, pass.Check.ErrorBefore);
        Assert.True(pass.Check.ErrorAfter > 0);
        Assert.Empty(pass.Corrections);
    }

    [Fact]
    public void Layers_the_reference_cannot_be_compared_with_are_skipped_with_the_reason()
    {
        var reference = TwoGemms();
        var factored = Apply(new LowRankFactorization(new Dictionary<string, int> { ["fc"] = 4 }), reference);
        var calibration = Samples(reference, 5, 128, 32);

        var pass = new EmpiricalBiasCorrection(calibration, reference);
        var corrected = Apply(pass, factored);

        Assert.Contains(pass.Skipped, s => s.Node == LowRankFactorization.FirstFactorName("fc") && s.Reason.Contains("reference model has no value"));
        Assert.Equal([LowRankFactorization.SecondFactorName("fc"), "head"], pass.Corrections.Select(c => c.Node));
        Assert.True(Errors(reference, corrected, calibration, "y", 1).Mse <= Errors(reference, factored, calibration, "y", 1).Mse);
    }

    [Fact]
    public void The_context_gives_the_pass_its_samples_and_reference()
    {
        var reference = GemmLayer();
        var quantized = Apply(new Int8WeightQuantization(), reference);
        var context = new PassContext(Samples(reference, 5, 64, 32)) { Reference = reference };

        Assert.Equal(1, EmpiricalBiasCorrection.FromContext(context).Apply(quantized.Clone()));
        Assert.Throws<InvalidOperationException>(() => EmpiricalBiasCorrection.FromContext(new PassContext(context.Calibration)));
        Assert.Equal(["fc"], EmpiricalBiasCorrection.EligibleNodes(quantized));
    }

    [Fact]
    public void Candidates_sharing_their_first_layer_and_their_reference_measure_each_once_and_are_corrected_as_when_measured_anew()
    {
        var reference = TwoGemms();
        var both = Apply(new Int8WeightQuantization(), reference);
        var firstOnly = Apply(new Int8WeightQuantization(new HashSet<string> { "fc" }), reference);
        var context = new PassContext(Samples(reference, 5, 128, 32)) { Reference = reference };

        var correctedBoth = Apply(EmpiricalBiasCorrection.FromContext(context), both);
        Assert.Equal(3, context.MeasuredLayerOutputs.Measurements); // fc and head in the candidate, both in one run of the reference
        var correctedFirstOnly = Apply(EmpiricalBiasCorrection.FromContext(context), firstOnly);

        // fc's part is the same int8 Gemm in both, the reference the same; head's part differs (its own weight, and fc's
        // correction before it).
        Assert.Equal(4, context.MeasuredLayerOutputs.Measurements);
        // The reference ran once on each batch for the four checks (before and after each correction).
        var (ran, replayed) = context.MeasuredLayerOutputs.RecordedBatches;
        Assert.InRange(ran, 1, 128);
        Assert.Equal(3 * ran, replayed);
        var anew = Apply(new EmpiricalBiasCorrection(context.Calibration!, reference), firstOnly);
        Assert.Equal(anew.ToByteArray(), correctedFirstOnly.ToByteArray());
        Assert.NotEqual(firstOnly.ToByteArray(), correctedFirstOnly.ToByteArray());
        Assert.NotEqual(both.ToByteArray(), correctedBoth.ToByteArray());
    }
}
