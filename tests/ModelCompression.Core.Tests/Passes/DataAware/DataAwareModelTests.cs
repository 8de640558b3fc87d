using Google.Protobuf;
using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.DataAware;

/// <summary>
/// Plans with <c>rounding=hessian</c> applied to small models, given input moments fitted on calibration inputs: the
/// compressed models run in ONNX Runtime, and their outputs on held-out inputs are closer to the original's than with
/// nearest rounding.
/// </summary>
public sealed class DataAwareModelTests
{
    private const int Features = 64, Outputs = 48;
    private static readonly (string, string) Hessian = (PassCatalog.RoundingParameter, "hessian");

    public static TheoryData<string> MatMulSteps => ["int8", "int4", "palette", "lowrank", "lowrank+int8"];

    [Theory]
    [MemberData(nameof(MatMulSteps))]
    public void A_matmul_rounded_for_its_inputs_has_a_smaller_held_out_output_error(string steps)
    {
        var layer = new SyntheticLayer(Outputs, Features, seed: 11);
        var model = MatMulModel(new WeightRowsOf(layer).Tensor);
        var statistics = new LayerStatisticsStub(new Dictionary<string, InputMoments> { ["layer"] = layer.Moments });
        var heldOut = new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([layer.HeldOut.Length / Features, Features], layer.HeldOut) };

        var nearest = Error(model, Apply(model, MatMulPlan(steps, hessian: false), statistics), heldOut);
        var hessian = Error(model, Apply(model, MatMulPlan(steps, hessian: true), statistics), heldOut);

        Assert.True(hessian < nearest, $"{steps}: hessian {hessian:E3} against nearest {nearest:E3}");
    }

    public static TheoryData<int, string> ConvCases => new() { { 1, "int8" }, { 1, "palette" }, { 2, "int8" }, { 2, "palette" } };

    [Theory]
    [MemberData(nameof(ConvCases))]
    public void A_conv_rounded_for_its_patches_has_a_smaller_held_out_output_error(int groups, string step)
    {
        const int channels = 8, outputs = 16;
        var k = channels / groups * 9;
        var calibration = CorrelatedInputs.Images(24, channels, 10, 10, seed: 3);
        var moments = CorrelatedInputs.Moments(Im2Col.Patches(calibration, 3, pad: 1, groups: groups), k);
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", channels, 10, 10)
            .Initializer("w", CorrelatedInputs.Gaussians(outputs * k, 5, 1 / Math.Sqrt(k)), outputs, channels / groups, 3, 3)
            .Node("Conv", ["x", "w"], ["y"], "conv", ("pads", new long[] { 1, 1, 1, 1 }), ("group", (long)groups))
            .Output("y", DataType.Float, "N", outputs, 10, 10)
            .Build();
        var statistics = new LayerStatisticsStub(new Dictionary<string, InputMoments> { ["conv"] = moments });
        var heldOut = new Dictionary<string, NdArray> { ["x"] = CorrelatedInputs.Images(8, channels, 10, 10, seed: 4) };
        Plan Steps(bool hessian) => new([step == "int8"
            ? PassCatalog.Step(PassCatalog.Int8Weights, ["conv"], hessian ? [Hessian] : [])
            : new PassStep(PassCatalog.Palettize, [KeyValuePair.Create(PassParameters.Bits, "conv=3"), .. hessian ? [KeyValuePair.Create(Hessian.Item1, Hessian.Item2)] : Array.Empty<KeyValuePair<string, string>>()])]);

        var nearest = Error(model, Apply(model, Steps(false), statistics), heldOut);
        var hessian = Error(model, Apply(model, Steps(true), statistics), heldOut);

        Assert.True(hessian < nearest, $"group {groups}, {step}: hessian {hessian:E3} against nearest {nearest:E3}");
    }

    [Theory]
    [MemberData(nameof(MatMulSteps))]
    public void Without_moments_hessian_rounding_is_nearest_rounding(string steps)
    {
        var layer = new SyntheticLayer(Outputs, Features, seed: 11);
        var model = MatMulModel(new WeightRowsOf(layer).Tensor);
        var nearest = PassCatalog.Apply(model, MatMulPlan(steps, hessian: false), PassContext.None);
        var hessian = PassCatalog.Apply(model, MatMulPlan(steps, hessian: true), PassContext.None);

        Assert.Equal(nearest.ToByteArray(), hessian.ToByteArray());
    }

    [Fact]
    public void The_factors_of_a_factored_layer_read_the_layers_moments_and_their_projection()
    {
        var layer = new SyntheticLayer(Outputs, Features, seed: 11);
        var statistics = new LayerStatisticsStub(new Dictionary<string, InputMoments> { ["layer"] = layer.Moments });
        var factored = Apply(MatMulModel(new WeightRowsOf(layer).Tensor), MatMulPlan("lowrank", hessian: true), statistics);

        var moments = new Core.Passes.DataAware.LayerMoments(statistics, new ModelView(factored));

        Assert.Same(layer.Moments, moments.For("layer/lowrank/a"));
        Assert.Equal((12, 1, layer.Moments.Rows), moments.For("layer/lowrank/b") is { } second ? (second.Dimension, second.Groups, second.Rows) : default);
        Assert.Null(moments.For("other"));
    }

    private static Plan MatMulPlan(string steps, bool hessian)
    {
        (string, string)[] rounding = hessian ? [Hessian] : [];
        var rankStep = new PassStep(PassCatalog.LowRank, [KeyValuePair.Create(PassCatalog.RanksParameter, "layer=12"), .. rounding.Select(p => KeyValuePair.Create(p.Item1, p.Item2))]);
        string[] factors = ["layer/lowrank/a", "layer/lowrank/b"];
        return new Plan(steps switch
        {
            "int8" => [PassCatalog.Step(PassCatalog.Int8Weights, ["layer"], rounding)],
            "int4" => [PassCatalog.Step(PassCatalog.Int4Weights, ["layer"], [(PassCatalog.BlockParameter, "32"), .. rounding])],
            "palette" => [new PassStep(PassCatalog.Palettize, [KeyValuePair.Create(PassParameters.Bits, "layer=3"), .. rounding.Select(p => KeyValuePair.Create(p.Item1, p.Item2))])],
            "lowrank" => [rankStep],
            "lowrank+int8" => [rankStep, PassCatalog.Step(PassCatalog.Int8Weights, factors, rounding)],
            _ => throw new ArgumentOutOfRangeException(nameof(steps), steps, null),
        });
    }

    private static ModelProto Apply(ModelProto model, Plan plan, ILayerStatistics statistics) =>
        PassCatalog.Apply(model, plan, new PassContext(null) { LayerStatistics = statistics });

    private static ModelProto MatMulModel(float[] weight) => new OnnxBuilder()
        .Input("x", DataType.Float, "N", Features)
        .Initializer("w", weight, Features, Outputs)
        .Node("MatMul", ["x", "w"], ["y"], "layer")
        .Output("y", DataType.Float, "N", Outputs)
        .Build();

    // ‖ŷ − y‖ / ‖y‖ over the held-out inputs.
    private static double Error(ModelProto original, ModelProto compressed, IReadOnlyDictionary<string, NdArray> inputs)
    {
        var expected = ModelEquivalence.Run(original, inputs).Values.First().ToFloats();
        var actual = ModelEquivalence.Run(compressed, inputs).Values.First().ToFloats();
        var error = expected.Zip(actual, (e, a) => (double)(e - a) * (e - a)).Sum();
        return Math.Sqrt(error / expected.Sum(e => (double)e * e));
    }

    // The layer's rows as MatMul's B [K, N].
    private sealed record WeightRowsOf(SyntheticLayer Layer)
    {
        public float[] Tensor => new Core.Passes.DataAware.WeightRows(Layer.Outputs, Layer.Inputs, 1, Transposed: true).Tensor<float>(Layer.Weights);
    }
}
