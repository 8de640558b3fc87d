using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Statistics;
using ModelCompression.Core.Tensors;
using ModelCompression.Core.Tests.Passes.Quantization;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Statistics;

/// <summary>Parameters and FLOPs of small graphs, against counts worked out by hand.</summary>
public class ModelStatisticsTests
{
    private static NdArray Random(int seed, params long[] shape) => SyntheticInputs.Uniform(shape, seed);

    private static Dictionary<string, NdArray> Feed(string name, params long[] shape) => new() { [name] = Random(99, shape) };

    /// <summary>
    /// x [N, 3, 8, 8] → Conv 3→4, 3×3, pad 1 (+bias) → Relu → Conv 4→6, 3×3, stride 2, group 2 → Flatten → Gemm 96→10 (transB, bias).
    /// </summary>
    private static ModelProto ConvNet() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 3, 8, 8)
        .Initializer("w1", Random(1, 4, 3, 3, 3)).Initializer("b1", Random(2, 4))
        .Initializer("w2", Random(3, 6, 2, 3, 3))
        .Initializer("fc", Random(4, 10, 96)).Initializer("fc.bias", Random(5, 10))
        .Node("Conv", ["x", "w1", "b1"], ["c1"], "conv1", ("pads", new long[] { 1, 1, 1, 1 }))
        .Node("Relu", ["c1"], ["r1"], "relu")
        .Node("Conv", ["r1", "w2"], ["c2"], "conv2", ("pads", new long[] { 1, 1, 1, 1 }), ("strides", new long[] { 2, 2 }), ("group", 2L))
        .Node("Flatten", ["c2"], ["f"], "flatten")
        .Node("Gemm", ["f", "fc", "fc.bias"], ["y"], "fc", ("transB", 1L))
        .Output("y", DataType.Float, "N", 10)
        .Build();

    // conv1: 4·8·8 outputs × 3·3·3 products; conv2: 6·4·4 outputs × 2·3·3 (group 2: 2 of the 4 input channels); fc: 10 × 96.
    private const long ConvNetParameters = 4 * 3 * 9 + 4 + 6 * 2 * 9 + 10 * 96 + 10;
    private const long ConvNetFlops = 2 * (4 * 8 * 8 * 27 + 6 * 4 * 4 * 18 + 10 * 96);

    [Fact]
    public void A_convolutional_network_counts_weights_biases_and_products_of_one_batch_1_run()
    {
        var statistics = ModelStatistics.Of(ConvNet(), Feed("x", 1, 3, 8, 8));

        Assert.Equal(ConvNetParameters, statistics.Parameters);
        Assert.Equal(ConvNetFlops, statistics.Flops);
        Assert.Empty(statistics.UnresolvedNodes);
        Assert.Equal(["conv1", "conv2", "fc"], statistics.Layers.Select(l => l.Node));
        Assert.Equal([4L * 27 + 4, 6 * 18, 960 + 10], statistics.Layers.Select(l => l.Parameters));
        Assert.Equal([2L * 4 * 64 * 27, 2L * 6 * 16 * 18, 2L * 960], statistics.Layers.Select(l => l.Flops!.Value));
    }

    [Fact]
    public void Without_a_sample_a_free_batch_axis_counts_as_one_and_the_model_is_not_changed()
    {
        var model = ConvNet();
        var before = model.Clone();

        var statistics = ModelStatistics.Of(model);

        Assert.Equal(ConvNetFlops, statistics.Flops);
        Assert.Equal(before, model);
    }

    [Fact]
    public void A_matmul_over_a_sequence_and_a_transposed_convolution_count_every_product()
    {
        var model = new OnnxBuilder()
            .Input("a", DataType.Float, 1, "T", 8)
            .Input("x", DataType.Float, 1, 4, 5, 5)
            .Initializer("b", Random(1, 8, 6))
            .Initializer("w", Random(2, 4, 3, 2, 2)) // ConvTranspose W [C=4, M/group=3, 2, 2]
            .Node("MatMul", ["a", "b"], ["y"], "matmul")
            .Node("ConvTranspose", ["x", "w"], ["z"], "deconv", ("strides", new long[] { 2, 2 }))
            .Output("y", DataType.Float, 1, "T", 6)
            .Output("z", DataType.Float, 1, 3, 10, 10)
            .Build();
        var sample = new Dictionary<string, NdArray> { ["a"] = Random(3, 1, 5, 8), ["x"] = Random(4, 1, 4, 5, 5) };

        var statistics = ModelStatistics.Of(model, sample);

        // MatMul: 5 positions × 6 outputs × 8 products; ConvTranspose: each of 4·5·5 inputs feeds 3·2·2 products.
        Assert.Equal(2L * 5 * 6 * 8 + 2L * 100 * 12, statistics.Flops);
        Assert.Equal(48 + 48, statistics.Parameters);
    }

    [Fact]
    public void Integer_kernels_count_their_weights_and_products_but_not_their_scales_and_zero_points()
    {
        NdArray Scalar<T>(T value) where T : unmanaged => NdArray.Create<T>([], [value]);
        var model = new OnnxBuilder()
            .Input("xq", DataType.Uint8, 1, 2, 5, 5)
            .Input("aq", DataType.Uint8, 1, 4, 6)
            .Initializer("s", Scalar(0.1f)).Initializer("z", Scalar<byte>(128))
            .Initializer("w", NdArray.Create<sbyte>([3, 2, 3, 3], new sbyte[54])).Initializer("w.scale", NdArray.Create<float>([3], [1f, 2f, 3f]))
            .Initializer("w.zero", NdArray.Create<sbyte>([3], new sbyte[3])).Initializer("bias", NdArray.Create<int>([3], [1, 2, 3]))
            .Initializer("b", NdArray.Create<sbyte>([6, 5], new sbyte[30])).Initializer("b.zero", Scalar<sbyte>(0))
            .Node("QLinearConv", ["xq", "s", "z", "w", "w.scale", "w.zero", "s", "z", "bias"], ["yq"], "conv")
            .Node("QLinearMatMul", ["aq", "s", "z", "b", "s", "b.zero", "s", "z"], ["cq"], "matmul")
            .Build();
        model.Graph.Output.Add(OnnxFactory.TensorValueInfo("yq", DataType.Uint8, null)); // shapes left to the counting rules
        model.Graph.Output.Add(OnnxFactory.TensorValueInfo("cq", DataType.Uint8, null));

        var statistics = ModelStatistics.Of(model);

        Assert.Equal(54 + 3 + 30, statistics.Parameters);
        Assert.Equal(2L * 27 * 18 + 2L * 4 * 5 * 6, statistics.Flops);
    }

    [Fact]
    public void A_layer_whose_shapes_stay_unknown_is_listed_and_counts_no_flops()
    {
        var model = new OnnxBuilder()
            .Input("a", DataType.Float, "N", "T", 8)
            .Initializer("b", Random(1, 8, 6))
            .Node("MatMul", ["a", "b"], ["y"], "matmul")
            .Output("y", DataType.Float, "N", "T", 6)
            .Build();

        var statistics = ModelStatistics.Of(model); // T is free and no sample fixes it

        Assert.Equal(["matmul"], statistics.UnresolvedNodes);
        Assert.Equal(0, statistics.Flops);
        Assert.Equal(48, statistics.Parameters);
        Assert.Null(statistics.Layers.Single().Flops);
    }

    [Fact]
    public void A_reshape_to_a_shape_computed_at_run_time_is_resolved_by_folding_the_shape_arithmetic()
    {
        // y = MatMul(Reshape(x, Concat(Shape(x)[0], -1)), w): the exporters' way of flattening.
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 2, 3, 4)
            .Initializer("zero", NdArray.Create<long>([1], [0])).Initializer("one", NdArray.Create<long>([1], [1]))
            .Initializer("minus_one", NdArray.Create<long>([1], [-1]))
            .Initializer("w", Random(1, 24, 5))
            .Node("Shape", ["x"], ["shape"], "shape")
            .Node("Slice", ["shape", "zero", "one"], ["batch"], "batch")
            .Node("Concat", ["batch", "minus_one"], ["target"], "target", ("axis", 0L))
            .Node("Reshape", ["x", "target"], ["flat"], "flatten")
            .Node("MatMul", ["flat", "w"], ["y"], "matmul")
            .Output("y", DataType.Float, "N", 5)
            .Build();

        var statistics = ModelStatistics.Of(model, Feed("x", 1, 2, 3, 4));

        Assert.Empty(statistics.UnresolvedNodes);
        Assert.Equal(2L * 5 * 24, statistics.Flops);
        Assert.Equal(120, statistics.Parameters); // the int64 shape constants are not parameters
    }

    [Fact]
    public void A_weight_shared_by_two_layers_counts_once_and_float_constants_of_other_operators_count()
    {
        var model = new OnnxBuilder()
            .Input("a", DataType.Float, 1, 8)
            .Initializer("w", Random(1, 8, 8))
            .Initializer("gamma", Random(2, 8))
            .Node("MatMul", ["a", "w"], ["h"], "first")
            .Node("MatMul", ["h", "w"], ["g"], "second")
            .Node("Mul", ["g", "gamma"], ["y"], "scale")
            .Output("y", DataType.Float, 1, 8)
            .Build();

        var statistics = ModelStatistics.Of(model);

        Assert.Equal(64 + 8, statistics.Parameters);
        Assert.Equal([64L, 0], statistics.Layers.Select(l => l.Parameters));
        Assert.Equal(2 * 2L * 64, statistics.Flops);
    }

    [Fact]
    public void A_weight_computed_from_constants_runs_at_load_so_only_the_layer_reading_it_counts_flops()
    {
        // Low-rank factors folded at load: W = A·B is a MatMul of two initializers, then x·W.
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 16)
            .Initializer("a", Random(1, 16, 2)).Initializer("b", Random(2, 2, 8))
            .Node("MatMul", ["a", "b"], ["w"], "product")
            .Node("MatMul", ["x", "w"], ["y"], "layer")
            .Output("y", DataType.Float, 1, 8)
            .Build();

        var statistics = ModelStatistics.Of(model);

        Assert.Equal(2L * 16 * 8, statistics.Flops);
    }

    [Theory]
    [InlineData(true, 2L * 2 * 4 * 8 * (8 + 8))] // the LSTM branch: 2 steps, 4 gates, hidden 8, input 8
    [InlineData(false, 2L * 2 * 3 * 8 * (8 + 8))] // the GRU branch: 3 gates
    public void An_if_whose_condition_the_sample_sets_counts_the_branch_it_takes_and_stores_both(bool condition, long flops)
    {
        var model = QuantizationTestKit.RecurrentIfModel();

        var statistics = ModelStatistics.Of(model, QuantizationTestKit.RecurrentInput(condition));

        Assert.Equal(flops, statistics.Flops);
        Assert.Empty(statistics.UnresolvedNodes);
        // LSTM W (w_ih through Slice/Concat/Unsqueeze) and R, GRU W and R: both branches are stored.
        Assert.Equal(32 * 8 + 32 * 8 + 24 * 8 + 24 * 8, statistics.Parameters);
    }

    [Fact]
    public void An_if_whose_condition_is_data_counts_its_costlier_branch()
    {
        var model = QuantizationTestKit.RecurrentIfModel();

        var statistics = ModelStatistics.Of(model, new Dictionary<string, NdArray> { ["x"] = Random(1, 2, 1, 8) });

        Assert.Equal(2L * 2 * 4 * 8 * 16, statistics.Flops);
    }

    [Fact]
    public void A_loop_counts_its_body_times_a_constant_trip_count()
    {
        var body = new OnnxBuilder()
            .Input("i", DataType.Int64).Input("cond_in", DataType.Bool).Input("v", DataType.Float, 1, 4)
            .Node("MatMul", ["v", "w"], ["v_next"], "step")
            .Node("Identity", ["cond_in"], ["cond_out"], "keep_going")
            .Output("cond_out", DataType.Bool).Output("v_next", DataType.Float, 1, 4)
            .Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 4)
            .Initializer("w", Random(1, 4, 4))
            .Initializer("trips", NdArray.Create<long>([], [3]))
            .Node("Loop", ["trips", "", "x"], ["y"], "loop", ("body", body))
            .Output("y", DataType.Float, 1, 4)
            .Build();

        var statistics = ModelStatistics.Of(model);

        Assert.Equal(3 * 2L * 16, statistics.Flops);
        Assert.Equal(16, statistics.Parameters);
    }

    private static Dictionary<string, T> AllLayers<T>(T value) => new() { ["conv1"] = value, ["conv2"] = value, ["fc"] = value };

    [Fact]
    public void Every_stored_form_of_the_weights_counts_the_same_parameters_and_flops()
    {
        var model = ConvNet();
        var feed = Feed("x", 1, 3, 8, 8);
        var samples = SampleSet.FromArrays("calibration", new Dictionary<string, NdArray> { ["x"] = Random(7, 16, 3, 8, 8) }, model);
        var forms = new (string Name, IGraphPass Pass)[]
        {
            ("int8 Cast·Mul", new Int8WeightQuantization(minElements: 1)),
            ("int8 DequantizeLinear", new Int8WeightQuantization(form: DequantizeForm.DequantizeLinear, minElements: 1)),
            ("fp16", new Fp16WeightConversion(minElements: 1)),
            ("int4 MatMulNBits", new Int4WeightQuantization(minElements: 1)),
            ("static int8 QDQ", new Int8StaticQuantization(samples)),
            ("dynamic int8", new Int8DynamicQuantization(minElements: 1)),
            ("dynamic int8 fused", new Int8DynamicQuantization(form: DynamicQuantizationForm.Fused, minElements: 1)),
            // Palette codes and masked sparse values are expanded by constant lookups (Gather) into the weights the layers read.
            ("palette 4-bit", new WeightPalettization(AllLayers(4), minElements: 1)),
            ("palette 3-bit per channel group, float16 table", new WeightPalettization(AllLayers(3), PaletteGranularity.PerChannelGroup, 2, PaletteTable.Float16, minElements: 1)),
            ("50% sparse, float values", new MagnitudePruning(SparsityTarget.Layers(AllLayers(0.5)), minElements: 1)),
            ("75% sparse, float16 values", new MagnitudePruning(SparsityTarget.Layers(AllLayers(0.75)), AllLayers(16), minElements: 1)),
        };
        foreach (var (name, pass) in forms)
        {
            var copy = model.Clone();
            Assert.True(pass.Apply(copy) > 0, name);

            var statistics = ModelStatistics.Of(copy, feed);

            Assert.True(ConvNetParameters == statistics.Parameters, $"{name}: {statistics.Parameters} parameters, expected {ConvNetParameters}");
            Assert.True(ConvNetFlops == statistics.Flops, $"{name}: {statistics.Flops} FLOPs, expected {ConvNetFlops}");
            Assert.Empty(statistics.UnresolvedNodes);
        }
    }
}
