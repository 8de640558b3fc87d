using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Distillation.Tests.Conversion;

/// <summary>Each operator family on a small synthetic graph: the student's outputs equal ONNX Runtime's to 1e-4.</summary>
public sealed class OperatorConformanceTests
{
    private static float[] Values(int count, int seed) => SyntheticInputs.Uniform([count], seed).ToFloats();

    private static Dictionary<string, NdArray> Input(long[] shape, int seed = 1) => new() { ["x"] = SyntheticInputs.Uniform(shape, seed) };

    private static NdArray Longs(params long[] values) => NdArray.Create<long>([values.Length], values);

    [Fact]
    public void Conv_with_groups_asymmetric_pads_strides_and_dilations()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 1, 4, 9, 8)
            .Initializer("w", Values(4 * 2 * 3 * 3, 2), 4, 2, 3, 3)
            .Initializer("b", Values(4, 3), 4)
            .Node("Conv", ["x", "w", "b"], ["y"], ("group", 2L), ("pads", new long[] { 1, 0, 2, 1 }), ("strides", new long[] { 2, 1 }), ("dilations", new long[] { 1, 2 }))
            .Output("y", DataType.Float, null, null, null, null)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([1, 4, 9, 8]));
    }

    [Fact]
    public void Conv_1d_and_auto_pad_same_upper()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3, 11)
            .Initializer("w", Values(5 * 3 * 4, 2), 5, 3, 4)
            .Initializer("w2", Values(5 * 5 * 3, 4), 5, 5, 3)
            .Node("Conv", ["x", "w"], ["h"], ("pads", new long[] { 2, 2 }))
            .Node("Conv", ["h", "w2"], ["y"], ("auto_pad", "SAME_UPPER"), ("strides", new long[] { 2 }))
            .Output("y", DataType.Float, null, null, null)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 11]));
    }

    [Fact]
    public void Gemm_with_transposes_alpha_beta_and_a_broadcast_bias_and_batched_MatMul()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 4, 3)
            .Initializer("b", Values(5 * 4, 2), 5, 4)
            .Initializer("c", Values(5, 3), 5)
            .Initializer("m", Values(5 * 2, 4), 5, 2)
            .Node("Gemm", ["x", "b", "c"], ["g"], ("transA", 1L), ("transB", 1L), ("alpha", 0.5f), ("beta", 2f))
            .Node("Reshape", ["g", "shape"], ["g3"])
            .Node("MatMul", ["g3", "m"], ["y"])
            .Initializer("shape", Longs(3, 1, 5))
            .Output("y", DataType.Float, 3, 1, 2)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([4, 3]));
    }

    [Fact]
    public void Arithmetic_broadcasts_like_numpy()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3, 4)
            .Initializer("c", Values(3, 2), 3, 1)
            .Initializer("two", [2f])
            .Node("Add", ["x", "c"], ["add"])
            .Node("Sub", ["c", "x"], ["sub"])
            .Node("Mul", ["x", "c"], ["mul"])
            .Node("Pow", ["x", "two"], ["square"])
            .Node("Add", ["square", "two"], ["positive"])
            .Node("Div", ["x", "positive"], ["div"])
            .Node("Sqrt", ["positive"], ["sqrt"])
            .Output("add", DataType.Float, 2, 3, 4).Output("sub", DataType.Float, 2, 3, 4).Output("mul", DataType.Float, 2, 3, 4)
            .Output("div", DataType.Float, 2, 3, 4).Output("sqrt", DataType.Float, 2, 3, 4)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 4]));
    }

    [Fact]
    public void Activations()
    {
        var model = new OnnxBuilder(14)
            .Input("x", DataType.Float, 3, 7)
            .Node("Relu", ["x"], ["relu"])
            .Node("LeakyRelu", ["x"], ["leaky"], ("alpha", 0.1f))
            .Node("HardSigmoid", ["x"], ["hsig"], ("alpha", 0.3f), ("beta", 0.4f))
            .Node("HardSwish", ["x"], ["hswish"])
            .Node("Sigmoid", ["x"], ["sigmoid"])
            .Node("Tanh", ["x"], ["tanh"])
            .Output("relu", DataType.Float, 3, 7).Output("leaky", DataType.Float, 3, 7).Output("hsig", DataType.Float, 3, 7)
            .Output("hswish", DataType.Float, 3, 7).Output("sigmoid", DataType.Float, 3, 7).Output("tanh", DataType.Float, 3, 7)
            .Build();
        // Wide enough to reach every piece of the hard functions.
        StudentRuns.AssertMatchesOnnxRuntime(model, new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([3, 7], 1, -5, 5) });
    }

    [Fact]
    public void Clip_with_attributes_before_opset_11()
    {
        var model = new OnnxBuilder(9)
            .Input("x", DataType.Float, 4, 5)
            .Node("Clip", ["x"], ["both"], ("min", -0.3f), ("max", 0.6f))
            .Node("Clip", ["x"], ["low"], ("min", 0f))
            .Output("both", DataType.Float, 4, 5).Output("low", DataType.Float, 4, 5)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([4, 5]));
    }

    [Fact]
    public void Clip_with_inputs_from_opset_11()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 4, 5)
            .Initializer("min", [-0.3f])
            .Initializer("max", [0.6f])
            .Node("Clip", ["x", "min", "max"], ["both"])
            .Node("Clip", ["x", "", "max"], ["high"])
            .Output("both", DataType.Float, 4, 5).Output("high", DataType.Float, 4, 5)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([4, 5]));
    }

    [Fact]
    public void BatchNormalization_in_inference_form()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3, 4, 5)
            .Initializer("scale", Values(3, 2), 3).Initializer("bias", Values(3, 3), 3)
            .Initializer("mean", Values(3, 4), 3).Initializer("var", [0.5f, 1.5f, 2f], 3)
            .Node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], ("epsilon", 1e-3f))
            .Output("y", DataType.Float, 2, 3, 4, 5)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 4, 5]));
    }

    [Fact]
    public void Pooling()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3, 9, 10)
            .Node("MaxPool", ["x"], ["max_asymmetric"], ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 0, 1, 2, 1 }), ("strides", new long[] { 2, 2 }), ("ceil_mode", 1L))
            .Node("MaxPool", ["x"], ["max"], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
            .Node("AveragePool", ["x"], ["avg_excluding"], ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("AveragePool", ["x"], ["avg_asymmetric"], ("kernel_shape", new long[] { 2, 3 }), ("pads", new long[] { 0, 1, 1, 2 }), ("strides", new long[] { 2, 1 }))
            .Node("AveragePool", ["x"], ["avg_including"], ("kernel_shape", new long[] { 3, 3 }), ("pads", new long[] { 1, 1, 1, 1 }), ("count_include_pad", 1L))
            .Node("GlobalAveragePool", ["x"], ["global"])
            .Output("max_asymmetric", DataType.Float, null, null, null, null).Output("max", DataType.Float, null, null, null, null)
            .Output("avg_excluding", DataType.Float, null, null, null, null).Output("avg_asymmetric", DataType.Float, null, null, null, null)
            .Output("avg_including", DataType.Float, null, null, null, null).Output("global", DataType.Float, 2, 3, 1, 1)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 9, 10]));
    }

    [Fact]
    public void Reshape_flatten_transpose_concat()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3, 4)
            .Initializer("shape", Longs(0, -1, 2))
            .Node("Reshape", ["x", "shape"], ["r"])
            .Node("Transpose", ["r"], ["t"], ("perm", new long[] { 2, 0, 1 }))
            .Node("Flatten", ["x"], ["f"], ("axis", 2L))
            .Node("Transpose", ["x"], ["reversed"])
            .Node("Concat", ["x", "x"], ["c"], ("axis", -2L))
            .Output("t", DataType.Float, 2, 2, 6).Output("f", DataType.Float, 6, 4).Output("reversed", DataType.Float, 4, 3, 2).Output("c", DataType.Float, 2, 6, 4)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 4]));
    }

    [Theory]
    [InlineData(11)]
    [InlineData(13)]
    public void Squeeze_and_Unsqueeze_read_axes_from_attributes_before_opset_13_and_from_inputs_after(int opset)
    {
        var builder = new OnnxBuilder(opset).Input("x", DataType.Float, 2, 1, 3, 1);
        if (opset < 13)
            builder.Node("Squeeze", ["x"], ["s"], ("axes", new long[] { 1, -1 })).Node("Unsqueeze", ["s"], ["u"], ("axes", new long[] { 0, -1 }));
        else
            builder.Initializer("squeezed", Longs(1, -1)).Initializer("unsqueezed", Longs(0, -1))
                .Node("Squeeze", ["x", "squeezed"], ["s"]).Node("Unsqueeze", ["s", "unsqueezed"], ["u"]);
        var model = builder.Node("Squeeze", ["x"], ["all"])
            .Output("u", DataType.Float, 1, 2, 3, 1).Output("all", DataType.Float, 2, 3)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 1, 3, 1]));
    }

    [Fact]
    public void ReduceMean_softmax_and_the_LayerNorm_decomposition()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3, 4)
            .Initializer("two", [2f]).Initializer("eps", [1e-5f])
            .Node("ReduceMean", ["x"], ["mean"], ("axes", new long[] { -1 }))
            .Node("Sub", ["x", "mean"], ["centred"])
            .Node("Pow", ["centred", "two"], ["squared"])
            .Node("ReduceMean", ["squared"], ["variance"], ("axes", new long[] { -1 }))
            .Node("Add", ["variance", "eps"], ["shifted"])
            .Node("Sqrt", ["shifted"], ["deviation"])
            .Node("Div", ["centred", "deviation"], ["normalized"])
            .Node("ReduceMean", ["x"], ["flat"], ("axes", new long[] { 0, 2 }), ("keepdims", 0L))
            .Node("Softmax", ["x"], ["softmax"], ("axis", 1L))
            .Output("normalized", DataType.Float, 2, 3, 4).Output("flat", DataType.Float, 3).Output("softmax", DataType.Float, 2, 3, 4)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 4]));
    }

    [Fact]
    public void Softmax_before_opset_13_coerces_to_2D_at_its_axis()
    {
        var model = new OnnxBuilder(11)
            .Input("x", DataType.Float, 2, 3, 4)
            .Node("Softmax", ["x"], ["coerced"], ("axis", 1L))
            .Node("Softmax", ["x"], ["last"])
            .Node("LogSoftmax", ["x"], ["log"], ("axis", 2L))
            .Output("coerced", DataType.Float, 2, 3, 4).Output("last", DataType.Float, 2, 3, 4).Output("log", DataType.Float, 2, 3, 4)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3, 4]));
    }

    [Fact]
    public void Integer_shape_arithmetic_runs_on_int64()
    {
        // The exporter's pattern: read dimensions, compute a new shape (with an integer Div and a float round trip), reshape.
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 6, 4)
            .Initializer("index", NdArray.Create<long>([], [1L]))
            .Initializer("last", Longs(-1))
            .Initializer("half", NdArray.Create<long>([], [2L]))
            .Initializer("zero", Longs(0))
            .Node("Shape", ["x"], ["shape"])
            .Node("Gather", ["shape", "index"], ["channels"])
            .Node("Div", ["channels", "half"], ["halved"])
            .Node("Cast", ["halved"], ["halved_float"], ("to", (long)DataType.Float))
            .Node("Cast", ["halved_float"], ["halved_int"], ("to", (long)DataType.Int64))
            .Node("Unsqueeze", ["halved_int", "zero"], ["halved_1d"])
            .Node("Concat", ["last", "halved_1d"], ["target"], ("axis", 0L))
            .Node("Reshape", ["x", "target"], ["y"])
            .Output("y", DataType.Float, 16, 3).Output("target", DataType.Int64, 2).Output("halved_float", DataType.Float)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 6, 4]));
    }

    [Fact]
    public void Slice_with_attributes_before_opset_10()
    {
        var model = new OnnxBuilder(9)
            .Input("x", DataType.Float, 4, 5, 6)
            .Node("Slice", ["x"], ["y"], ("starts", new long[] { 1, -4 }), ("ends", new long[] { 1000, -1 }), ("axes", new long[] { 0, 2 }))
            .Output("y", DataType.Float, 3, 5, 3)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([4, 5, 6]));
    }

    [Fact]
    public void Slice_with_inputs_steps_and_clamped_bounds()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 4, 5, 6)
            .Initializer("starts", Longs(-1, 0, 1)).Initializer("ends", Longs(long.MinValue, 9, 5)).Initializer("axes", Longs(0, 1, -1)).Initializer("steps", Longs(-2, 2, 3))
            .Node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])
            .Output("y", DataType.Float, 2, 3, 2)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([4, 5, 6]));
    }

    [Fact]
    public void Gather_with_a_scalar_and_negative_indices()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 4, 5)
            .Initializer("scalar", NdArray.Create<long>([], [-1L]))
            .Initializer("matrix", NdArray.Create<long>([2, 2], [0L, -2L, 3L, 1L]))
            .Node("Gather", ["x", "scalar"], ["row"])
            .Node("Gather", ["x", "matrix"], ["columns"], ("axis", 1L))
            .Output("row", DataType.Float, 5).Output("columns", DataType.Float, 4, 2, 2)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([4, 5]));
    }

    [Fact]
    public void Constant_identity_and_dropout_pass_values_through()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2, 3)
            .Node("Constant", [], ["c"], ("value", NdArray.Create<float>([3], [1f, -2f, 0.5f])))
            .Node("Constant", [], ["k"], ("value_float", 3f))
            .Node("Mul", ["x", "c"], ["scaled"])
            .Node("Dropout", ["scaled"], ["dropped"])
            .Node("Identity", ["dropped"], ["same"])
            .Node("Add", ["same", "k"], ["y"])
            .Output("y", DataType.Float, 2, 3).Output("x_again", DataType.Float, 2, 3)
            .Node("Identity", ["x"], ["x_again"])
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([2, 3]));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(13)]
    public void Pad_in_constant_reflect_and_edge_modes(int opset)
    {
        var builder = new OnnxBuilder(opset).Input("x", DataType.Float, 1, 2, 4, 5);
        long[] pads = [0, 0, 1, 2, 0, 0, 2, -1];
        if (opset < 11)
            builder.Node("Pad", ["x"], ["constant"], ("pads", pads), ("value", 0.5f))
                .Node("Pad", ["x"], ["reflect"], ("pads", new long[] { 0, 0, 1, 2, 0, 0, 2, 1 }), ("mode", "reflect"))
                .Node("Pad", ["x"], ["edge"], ("pads", pads), ("mode", "edge"));
        else
            builder.Initializer("pads", Longs(pads)).Initializer("reflect_pads", Longs(0, 0, 1, 2, 0, 0, 2, 1)).Initializer("value", [0.5f])
                .Node("Pad", ["x", "pads", "value"], ["constant"])
                .Node("Pad", ["x", "reflect_pads"], ["reflect"], ("mode", "reflect"))
                .Node("Pad", ["x", "pads"], ["edge"], ("mode", "edge"));
        var model = builder.Output("constant", DataType.Float, 1, 2, 7, 6).Output("reflect", DataType.Float, 1, 2, 7, 8).Output("edge", DataType.Float, 1, 2, 7, 6).Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([1, 2, 4, 5]));
    }

    [Fact]
    public void Masks_ranges_and_generated_tensors()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 3, 4)
            .Initializer("zero", [0f]).Initializer("start", NdArray.Create<long>([], [1L])).Initializer("limit", NdArray.Create<long>([], [9L]))
            .Initializer("delta", NdArray.Create<long>([], [3L])).Initializer("wide", Longs(2, 3, 4)).Initializer("repeats", Longs(1, 2))
            .Initializer("sizes", Longs(1, 3))
            .Initializer("floatStart", NdArray.Create<float>([], [0.5f])).Initializer("floatLimit", NdArray.Create<float>([], [2f]))
            .Initializer("floatDelta", NdArray.Create<float>([], [0.25f]))
            .Node("Greater", ["x", "zero"], ["positive"])
            .Node("Not", ["positive"], ["negative"])
            .Node("Equal", ["x", "x"], ["same"])
            .Node("And", ["negative", "same"], ["kept"])
            .Node("Where", ["kept", "x", "zero"], ["masked"])
            .Node("Range", ["start", "limit", "delta"], ["range"])
            .Node("Range", ["floatStart", "floatLimit", "floatDelta"], ["floatRange"])
            .Node("Expand", ["x", "wide"], ["expanded"])
            .Node("Tile", ["x", "repeats"], ["tiled"])
            .Node("Split", ["x", "sizes"], ["left", "right"], ("axis", 1L))
            .Node("Size", ["x"], ["size"])
            .Node("Shape", ["x"], ["shape"])
            .Node("ConstantOfShape", ["shape"], ["filled"], ("value", NdArray.Create<float>([1], [2.5f])))
            .Node("ConstantOfShape", ["shape"], ["zeros"])
            .Output("masked", DataType.Float, 3, 4).Output("range", DataType.Int64, 3).Output("floatRange", DataType.Float, 6).Output("expanded", DataType.Float, 2, 3, 4)
            .Output("tiled", DataType.Float, 3, 8).Output("left", DataType.Float, 3, 1).Output("right", DataType.Float, 3, 3)
            .Output("size", DataType.Int64).Output("filled", DataType.Float, 3, 4).Output("zeros", DataType.Float, 3, 4)
            .Build();
        StudentRuns.AssertMatchesOnnxRuntime(model, Input([3, 4]));
    }
}
