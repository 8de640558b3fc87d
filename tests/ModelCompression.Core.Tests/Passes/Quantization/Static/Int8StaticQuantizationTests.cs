using ModelCompression.Core.Calibration;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.Static.QuantizationModels;

namespace ModelCompression.Core.Tests.Passes.Quantization.Static;

public class Int8StaticQuantizationTests
{
    private static StaticQuantizationOptions Options(CalibrationMethod method = CalibrationMethod.MinMax, bool symmetric = false, bool integerOps = true) =>
        new() { Activations = new CalibrationSettings(method, Symmetric: symmetric), IntegerIntermediateOps = integerOps };

    private static (ModelProto Quantized, Int8StaticQuantization Pass, int Rewrites) Quantize(ModelProto model, NdArray input, StaticQuantizationOptions options, IReadOnlySet<string>? nodes = null)
    {
        var quantized = model.Clone();
        var pass = new Int8StaticQuantization(Samples(model, "x", input), nodes, options);
        var rewrites = pass.Apply(quantized);
        OnnxStructure.Validate(quantized, "quantized");
        return (quantized, pass, rewrites);
    }

    private static float[] Run(ModelProto model, NdArray input)
    {
        using var runner = new ModelRunner(model, "model");
        return runner.Run(Feed("x", input))["y"].ToFloats();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_quantized_conv_stays_within_the_error_its_int8_grids_imply(bool symmetric)
    {
        var model = Conv();
        var input = Images(6, 3);
        var (quantized, _, rewrites) = Quantize(model, input, Options(symmetric: symmetric));

        Assert.Equal(1, rewrites);
        var expected = Run(model, input);
        var actual = Run(quantized, input);

        // Grid steps as the method defines them (MinMax over the calibration data, which is the input here).
        var x = input.ToFloats();
        float Step(float[] v) => symmetric ? v.Max(Math.Abs) / 127 : (Math.Max(v.Max(), 0) - Math.Min(v.Min(), 0)) / 255;
        var stepX = Step(x);
        var stepY = Step(expected);
        var maxAbsX = x.Max(Math.Abs);
        var w = QuantizationModels.Values(8 * 27, 1, 0.5f);
        const int k = 27; // weights per output channel
        var bounds = new double[8];
        for (var c = 0; c < 8; c++)
        {
            var channel = w.AsSpan(c * k, k).ToArray();
            var stepW = channel.Max(Math.Abs) / 127.0;
            // |ŷ − y| ≤ output rounding + Σ|w|·(input rounding) + Σ|x|·(weight rounding) + their product + bias rounding.
            bounds[c] = stepY / 2 + stepX / 2 * channel.Sum(Math.Abs) + k * maxAbsX * stepW / 2 + k * stepX / 2 * stepW / 2 + stepX * stepW / 2;
        }
        var worst = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            var error = Math.Abs(actual[i] - expected[i]);
            var bound = bounds[i / 64 % 8] + 1e-5 * (1 + Math.Abs(expected[i]));
            Assert.True(error <= bound, $"element {i}: error {error:G4} exceeds the bound {bound:G4}");
            worst = Math.Max(worst, error / bound);
        }
        Assert.InRange(worst, 0.01, 1); // quantization did happen, and the bound is not vacuous
    }

    [Fact]
    public void Onnx_runtime_runs_every_layer_and_the_ops_between_them_on_integers()
    {
        var model = Cnn();
        var input = Images(8, 5);
        var (quantized, pass, rewrites) = Quantize(model, input, Options());

        Assert.Empty(pass.Skipped);
        Assert.Equal(4 + 2, rewrites); // 2 Conv + 2 Gemm, MaxPool and Flatten
        var ops = OptimizedGraph.OpTypes(quantized);
        var runs = "ORT runs: " + string.Join(", ", ops);
        Assert.True(ops.Count(o => o == "QLinearConv") == 2 && ops.Count(o => o == "MatMulIntegerToFloat") == 2, runs);
        Assert.DoesNotContain("Conv", ops);
        Assert.DoesNotContain("Gemm", ops);
        Assert.DoesNotContain("MatMul", ops);
        // The input is quantized once; the convolutions, the pooling and the flattening run on uint8; the fully
        // connected layers take uint8 and give float (with their bias), so the second one's input is quantized again.
        Assert.True(ops.Count(o => o == "QuantizeLinear") == 2, runs);
        Assert.DoesNotContain("Relu", ops); // each folded into the zero point 0 of the uint8 grid after it
        Assert.DoesNotContain("DequantizeLinear", ops);
        AssertClose(Run(model, input), Run(quantized, input), 0.03);
    }

    [Fact]
    public void Without_integer_intermediate_ops_only_the_layers_are_fused()
    {
        var model = Cnn();
        var input = Images(8, 5);
        var (quantized, _, rewrites) = Quantize(model, input, Options(integerOps: false));

        Assert.Equal(4, rewrites);
        var pool = quantized.Graph.Node.Single(n => n.OpType == "MaxPool");
        Assert.Equal("DequantizeLinear", quantized.Graph.Node.Single(n => n.Output.Contains(pool.Input[0])).OpType);
        Assert.Equal("Flatten", quantized.Graph.Node.Single(n => n.Input.Contains("r2_dequantized")).OpType);
        var ops = OptimizedGraph.OpTypes(quantized);
        Assert.Equal(2, ops.Count(o => o == "QLinearConv"));
        Assert.Equal(2, ops.Count(o => o == "MatMulIntegerToFloat"));
        AssertClose(Run(model, input), Run(quantized, input), 0.03);
    }

    [Fact]
    public void Symmetric_activations_keep_the_relus_and_still_fuse_the_layers()
    {
        var model = Cnn();
        var input = Images(8, 5);
        var (quantized, _, _) = Quantize(model, input, Options(symmetric: true));

        var ops = OptimizedGraph.OpTypes(quantized);
        Assert.Equal(2, ops.Count(o => o == "QLinearConv"));
        Assert.Contains("Relu", quantized.Graph.Node.Select(n => n.OpType));
        Assert.All(quantized.Graph.Node.Where(n => n.OpType == "QuantizeLinear"),
            q => Assert.Equal((int)DataType.Int8, quantized.Graph.Initializer.Single(t => t.Name == q.Input[2]).DataType));
        AssertClose(Run(model, input), Run(quantized, input), 0.05);
    }

    [Fact]
    public void Matmuls_become_integer_matmuls_and_a_residual_add_between_them_a_quantized_add()
    {
        var model = MatMuls();
        var input = SyntheticInputs.Uniform([16, 16], 7);
        var (quantized, _, rewrites) = Quantize(model, input, Options());

        Assert.Equal(4, rewrites);
        var ops = OptimizedGraph.OpTypes(quantized);
        var runs = "ORT runs: " + string.Join(", ", ops);
        Assert.True(ops.Count(o => o == "QLinearMatMul") == 2, runs); // the two feeding the Add, which takes their uint8 outputs
        Assert.True(ops.Contains("QLinearAdd"), runs);
        Assert.True(ops.Contains("MatMulIntegerToFloat"), runs); // the last: float output, no Q after it
        Assert.DoesNotContain("MatMul", ops);
        AssertClose(Run(model, input), Run(quantized, input), 0.03);
    }

    [Fact]
    public void With_minmax_on_the_same_inputs_no_activation_clips()
    {
        var model = Cnn();
        var input = Images(8, 9);
        var (quantized, _, _) = Quantize(model, input, Options(CalibrationMethod.MinMax));

        var grids = quantized.Graph.Node.Where(n => n.OpType == "QuantizeLinear").ToList();
        Assert.NotEmpty(grids);
        var tensors = grids.Select(q => q.Input[0].EndsWith("_float", StringComparison.Ordinal) ? q.Input[0][..^6] : q.Input[0]).ToList();
        var probe = Calibrator.WithOutputs(model, tensors, out _);
        using var runner = new ModelRunner(probe, "probe");
        var values = runner.Run(Feed("x", input));
        for (var i = 0; i < grids.Count; i++)
        {
            var scale = TensorProtoConverter.ToNdArray(quantized.Graph.Initializer.Single(t => t.Name == grids[i].Input[1])).ToFloats()[0];
            var zero = TensorProtoConverter.ToNdArray(quantized.Graph.Initializer.Single(t => t.Name == grids[i].Input[2]));
            var grid = new QuantizationParameters(scale, (int)zero.ToInt64s()[0], zero.ElementType);
            var floats = tensors[i] == "x" ? input.ToFloats() : values[tensors[i]].ToFloats();
            foreach (var v in floats)
                Assert.True(Math.Abs(grid.RoundTrip(v) - v) <= scale / 2 * 1.0001, $"'{tensors[i]}': {v} clips to {grid.RoundTrip(v)} on [{grid.Low}, {grid.High}]");
        }
    }

    [Fact]
    public void An_opset_9_model_is_refused_with_the_reason_and_left_unchanged()
    {
        var model = Conv(opset: 9);
        var before = model.Clone();

        Assert.False(Int8StaticQuantization.CanApply(model, out var reason));
        Assert.Contains("opset 9", reason);
        Assert.Contains("13", reason);
        var pass = new Int8StaticQuantization(new CalibrationResult([], 0));
        Assert.Equal(0, pass.Apply(model));
        Assert.Equal(before, model);
        Assert.Contains("opset 9", Assert.Single(pass.Skipped).Reason);
        Assert.Empty(Int8StaticQuantization.EligibleNodes(model));
    }

    [Fact]
    public void Only_the_named_layers_are_quantized_and_one_calibration_serves_every_subset()
    {
        var model = Cnn();
        var input = Images(8, 5);
        var calibration = Int8StaticQuantization.Calibrate(model, "cnn", Samples(model, "x", input), Options(CalibrationMethod.Entropy));
        Assert.Equal(["conv1", "conv2", "fc1", "fc2"], Int8StaticQuantization.EligibleNodes(model));

        foreach (var subset in new[] { new[] { "conv2" }, ["fc1"], ["conv1", "fc2"] })
        {
            var quantized = model.Clone();
            var pass = new Int8StaticQuantization(calibration, subset.ToHashSet(), Options(CalibrationMethod.Percentile));
            Assert.True(pass.Apply(quantized) >= subset.Length);
            Assert.Empty(pass.Skipped);
            var weights = new Dictionary<string, string> { ["conv1"] = "c1.w", ["conv2"] = "c2.w", ["fc1"] = "f1.w", ["fc2"] = "f2.w" };
            var stillFloat = weights.Where(w => quantized.Graph.Initializer.Any(t => t.Name == w.Value)).Select(w => w.Key);
            Assert.Equal(weights.Keys.Except(subset).Order(), stillFloat.Order());
            AssertClose(Run(model, input), Run(quantized, input), 0.05);
        }
    }

    [Fact]
    public void A_shared_weight_is_stored_once_and_each_reader_gets_its_own_dequantization()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 16)
            .Initializer("w", QuantizationModels.Values(256, 4), 16, 16)
            .Node("MatMul", ["x", "w"], ["h"], "first")
            .Node("MatMul", ["h", "w"], ["y"], "second")
            .Output("y", DataType.Float, "N", 16)
            .Build();
        var input = SyntheticInputs.Uniform([8, 16], 2);

        var (quantized, pass, rewrites) = Quantize(model, input, Options());

        Assert.Equal(2, rewrites);
        Assert.Empty(pass.Skipped);
        Assert.Single(quantized.Graph.Initializer, t => t.DataType == (int)DataType.Int8);
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name == "w");
        Assert.Equal(2, quantized.Graph.Node.Count(n => n.Name.EndsWith("_weight_DequantizeLinear", StringComparison.Ordinal)));
        AssertClose(Run(model, input), Run(quantized, input), 0.03);
    }

    [Fact]
    public void Layers_it_cannot_quantize_are_skipped_with_their_reasons_and_the_model_still_runs()
    {
        GraphProto Branch(string name) => new OnnxBuilder()
            .Initializer($"{name}.w", QuantizationModels.Values(64, 8), 8, 8)
            .Node("MatMul", ["h", $"{name}.w"], [$"{name}.out"], name)
            .Output($"{name}.out", DataType.Float, "N", 8)
            .Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 8)
            .Input("cond", DataType.Bool)
            .Input("v", DataType.Float, 8, 8)
            .Initializer("w", QuantizationModels.Values(64, 5), 8, 8)
            .Initializer("w3", QuantizationModels.Values(128, 6), 2, 8, 8)
            .Initializer("gw", QuantizationModels.Values(64, 7), 8, 8)
            .Node("MatMul", ["x", "w"], ["h"], "quantized")
            .Node("MatMul", ["h", "v"], ["hv"], "runtime_weight")
            .Node("MatMul", ["hv", "w3"], ["h3"], "batched_weight")
            .Node("Gemm", ["x", "gw"], ["g"], "scaled_gemm", ("alpha", 0.5f))
            .Node("If", ["cond"], ["branch"], "if", ("then_branch", Branch("in_then")), ("else_branch", Branch("in_else")))
            .Output("h3", DataType.Float, 2, "N", 8)
            .Output("g", DataType.Float, "N", 8)
            .Output("branch", DataType.Float, "N", 8)
            .Build();
        var feed = new Dictionary<string, NdArray>
        {
            ["x"] = SyntheticInputs.Uniform([4, 8], 1),
            ["cond"] = NdArray.Create<bool>([], [true]),
            ["v"] = SyntheticInputs.Uniform([8, 8], 2),
        };
        // One sample, each input stored whole: [1, ...input shape].
        var data = feed.ToDictionary(f => f.Key, f => f.Value.Reshape([1, .. f.Value.Shape]));
        var quantized = model.Clone();
        var pass = new Int8StaticQuantization(Core.Data.SampleSet.FromArrays("c.npz", data, model), options: Options());

        Assert.Equal(1, pass.Apply(quantized));

        var reasons = pass.Skipped.ToDictionary(s => s.Node, s => s.Reason);
        Assert.Equal(["batched_weight", "in_else", "in_then", "runtime_weight", "scaled_gemm"], reasons.Keys.Order());
        Assert.Contains("subgraph", reasons["in_then"]);
        Assert.Contains("not a constant", reasons["runtime_weight"]);
        Assert.Contains("rank 3", reasons["batched_weight"]);
        Assert.Contains("alpha", reasons["scaled_gemm"]);
        using var runner = new ModelRunner(quantized, "quantized");
        using var original = new ModelRunner(model, "model");
        var expected = original.Run(feed);
        var actual = runner.Run(feed);
        foreach (var name in expected.Keys) AssertClose(expected[name].ToFloats(), actual[name].ToFloats(), 0.05);
    }

    [Fact]
    public void The_same_samples_give_the_same_model_byte_for_byte()
    {
        var model = Cnn();
        var input = Images(8, 5);
        var first = Quantize(model, input, Options(CalibrationMethod.Entropy)).Quantized;
        var second = Quantize(model, input, Options(CalibrationMethod.Entropy)).Quantized;
        Assert.Equal(OnnxModelFile.SizeOf(first), OnnxModelFile.SizeOf(second));
        Assert.True(Google.Protobuf.MessageExtensions.ToByteArray(first).AsSpan().SequenceEqual(Google.Protobuf.MessageExtensions.ToByteArray(second)));
    }

    /// <summary>Every output within <paramref name="share"/> of the expected outputs' spread.</summary>
    private static void AssertClose(float[] expected, float[] actual, double share)
    {
        var spread = expected.Max() - expected.Min();
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= share * spread, $"largest error {worst:G4} is more than {share:P0} of the outputs' spread {spread:G4}");
        Assert.True(worst > 0, "the outputs are identical: nothing was quantized");
    }
}
