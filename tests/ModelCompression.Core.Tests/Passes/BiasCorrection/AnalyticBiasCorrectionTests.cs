using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.BiasCorrection;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.BiasCorrection.BiasCorrectionTestKit;

namespace ModelCompression.Core.Tests.Passes.BiasCorrection;

/// <summary>
/// A linear layer's mean output error is ΔW·E[x]: corrected from the statistics' E[x] alone, the mean error on the very
/// samples the statistics came from must vanish, as it does with the empirical correction, for every storage format.
/// </summary>
public class AnalyticBiasCorrectionTests
{
    // x [N, 8, 7, 6] → Conv 3×3 8→12 (bias, pad 1, dilation 2 along the width, 2 groups) → y.
    private static ModelProto ConvLayer() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 8, 7, 6)
        .Initializer("w", NdArray.Create<float>([12, 4, 3, 3], BiasedWeights(12, 36, outputsFirst: true, seed: 3)))
        .Initializer("b", SyntheticInputs.Uniform([12], 4))
        .Node("Conv", ["x", "w", "b"], ["y"], "conv", ("pads", new long[] { 1, 2, 1, 2 }), ("dilations", new long[] { 1, 2 }), ("group", 2L))
        .Output("y", DataType.Float, "N", 12, 7, 6)
        .Build();

    private static ModelProto Apply(IGraphPass pass, ModelProto model)
    {
        var copy = model.Clone();
        pass.Apply(copy);
        OnnxStructure.Validate(copy, pass.Name);
        return copy;
    }

    /// <summary>Per channel (axis 1), the mean of reference − model over the samples and positions.</summary>
    private static double[] MeanError(ModelProto reference, ModelProto model, SampleSet samples, string output)
    {
        var feed = samples.Batch(0, samples.Count);
        var expected = ModelEquivalence.Run(Calibrator.WithOutputs(reference, [output], out _), feed)[output];
        var actual = ModelEquivalence.Run(Calibrator.WithOutputs(model, [output], out _), feed)[output].ToFloats();
        var e = expected.ToFloats();
        var channels = (int)expected.Shape[1];
        var inner = expected.Shape.ToArray().Skip(2).Aggregate(1L, (a, d) => a * d);
        var sums = new double[channels];
        for (var i = 0; i < e.Length; i++) sums[(int)(i / inner % channels)] += e[i] - actual[i];
        return sums.Select(s => s / (e.Length / channels)).ToArray();
    }

    private static LayerInputStatistics Statistics(ModelProto model, SampleSet samples, params string[] layers) =>
        LayerStatisticsCollector.Collect(model, "model", samples, layers);

    [Theory]
    [InlineData("int8")]
    [InlineData("int4")]
    [InlineData("lowrank")]
    public void A_gemm_s_mean_error_on_the_statistics_samples_vanishes(string technique)
    {
        var reference = GemmLayer();
        IGraphPass lossy = technique switch
        {
            "int8" => new Int8WeightQuantization(),
            "int4" => new Int4WeightQuantization(minElements: 1),
            _ => new LowRankFactorization(new Dictionary<string, int> { ["fc"] = 3 }),
        };
        var compressed = Apply(lossy, reference);
        var calibration = Samples(reference, 5, 256, 32);
        var before = MeanError(reference, compressed, calibration, "h");
        Assert.Contains(before, m => Math.Abs(m) > 0.01);

        var corrected = technique == "lowrank" ? LowRankFactorization.SecondFactorName("fc") : "fc";
        var pass = new AnalyticBiasCorrection(reference, Statistics(reference, calibration, "fc"), new HashSet<string> { corrected });
        var after = MeanError(reference, Apply(pass, compressed), calibration, "h");

        Assert.Equal(corrected, Assert.Single(pass.Corrections).Node);
        Assert.All(after, m => Assert.True(Math.Abs(m) < 1e-4, $"mean error {m} after correction (before: up to {before.Max(Math.Abs)})"));
    }

    [Fact]
    public void A_grouped_dilated_padded_convolution_is_corrected_per_channel_from_its_mean_patch()
    {
        var reference = ConvLayer();
        var quantized = Apply(new Int8WeightQuantization(), reference);
        var calibration = Samples(reference, 7, 32, 8, 7, 6);
        var before = MeanError(reference, quantized, calibration, "y");

        var pass = new AnalyticBiasCorrection(reference, Statistics(reference, calibration, "conv"));
        var after = MeanError(reference, Apply(pass, quantized), calibration, "y");

        Assert.Equal("conv", Assert.Single(pass.Corrections).Node);
        Assert.All(after, m => Assert.True(Math.Abs(m) < 1e-4, $"mean error {m} after correction (before: up to {before.Max(Math.Abs)})"));
        Assert.True(before.Max(Math.Abs) > 0.01);
    }

    [Fact]
    public void Layers_it_cannot_correct_are_skipped_with_the_reason()
    {
        var reference = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 8)
            .Initializer("w", SyntheticInputs.Uniform([8, 4], 1))
            .Initializer("v", SyntheticInputs.Uniform([4, 4], 2))
            .Initializer("c", SyntheticInputs.Uniform([4], 3))
            .Node("MatMul", ["x", "w"], ["h"], "bare")
            .Node("Gemm", ["h", "v", "c"], ["y"], "head")
            .Output("y", DataType.Float, "N", 4)
            .Build();
        var quantized = Apply(new Int8WeightQuantization(minElements: 1), reference);
        var calibration = Samples(reference, 5, 64, 8);
        // Statistics of the bare MatMul only: the Gemm has none.
        var pass = new AnalyticBiasCorrection(reference, Statistics(reference, calibration, "bare"));
        Apply(pass, quantized);

        Assert.Empty(pass.Corrections);
        Assert.Contains(pass.Skipped, s => s.Node == "bare" && s.Reason.Contains("no bias"));
        Assert.Contains(pass.Skipped, s => s.Node == "head" && s.Reason.Contains("statistics were not collected"));
    }

    [Fact]
    public void A_plan_step_with_the_analytic_method_applies_it_from_the_context()
    {
        var reference = GemmLayer();
        var calibration = Samples(reference, 5, 128, 32);
        var context = new PassContext(calibration) { Reference = reference, LayerStatistics = Statistics(reference, calibration, "fc") };
        var plan = new Plan([PassCatalog.Step(PassCatalog.Int8Weights),
            PassCatalog.Step(PassCatalog.BiasCorrection, ["fc"], (PassCatalog.MethodParameter, AnalyticBiasCorrection.Method))]);
        var corrected = PassCatalog.Apply(reference, plan, context);

        Assert.All(MeanError(reference, corrected, calibration, "h"), m => Assert.True(Math.Abs(m) < 1e-4, $"mean error {m}"));
        Assert.Throws<PlanStepException>(() => PassCatalog.Apply(reference,
            new Plan([PassCatalog.Step(PassCatalog.BiasCorrection, ["fc"], (PassCatalog.MethodParameter, "guess"))]), context));
    }
}
