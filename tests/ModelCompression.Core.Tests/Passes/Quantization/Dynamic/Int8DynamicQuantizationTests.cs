using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Tensors;
using ModelCompression.Core.Tests.Passes.Quantization.Static;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.Static.QuantizationModels;

namespace ModelCompression.Core.Tests.Passes.Quantization.Dynamic;

public class Int8DynamicQuantizationTests
{
    /// <summary>x [N,32] → Gemm (transB, 24 features, bias) → Relu → MatMul (24×16) → y.</summary>
    private static ModelProto Mlp(int opset = 13, float alpha = 1, float beta = 1, long[]? biasShape = null) => new OnnxBuilder(opset)
        .Input("x", DataType.Float, "N", 32)
        .Initializer("w1", QuantizationModels.Values(24 * 32, 1, 0.4f), 24, 32)
        .Initializer("b1", QuantizationModels.Values(biasShape?.Aggregate(1L, (a, d) => a * d) is { } n ? (int)n : 24, 2, 0.2f), biasShape ?? [24])
        .Initializer("w2", QuantizationModels.Values(24 * 16, 3, 0.4f), 24, 16)
        .Node("Gemm", ["x", "w1", "b1"], ["h"], "fc1", ("transB", 1), ("alpha", alpha), ("beta", beta))
        .Node("Relu", ["h"], ["r"], "relu")
        .Node("MatMul", ["r", "w2"], ["y"], "fc2")
        .Output("y", DataType.Float, "N", 16)
        .Build();

    private static NdArray Input(int batch = 4) => SyntheticInputs.Uniform([batch, 32], 9);

    private static float[] Run(ModelProto model, NdArray input)
    {
        using var runner = new ModelRunner(model, "model");
        return runner.Run(Feed("x", input))["y"].ToFloats();
    }

    private static ModelProto Quantized(ModelProto model, DynamicQuantizationForm form, IReadOnlySet<string>? nodes = null, int minElements = Int8DynamicQuantization.DefaultMinElements)
    {
        var copy = model.Clone();
        new Int8DynamicQuantization(nodes, form, minElements).Apply(copy);
        OnnxStructure.Validate(copy, "quantized");
        return copy;
    }

    [Theory]
    [InlineData(DynamicQuantizationForm.Standard)]
    [InlineData(DynamicQuantizationForm.Fused)]
    public void A_quantized_matmul_stays_within_the_error_its_int8_grids_imply(DynamicQuantizationForm form)
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 32)
            .Initializer("w", QuantizationModels.Values(32 * 16, 4, 0.5f), 32, 16)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, 1, 16)
            .Build();
        var input = SyntheticInputs.Uniform([1, 32], 5, -0.5f, 2f);

        var quantized = Quantized(model, form);

        var expected = Run(model, input);
        var actual = Run(quantized, input);
        var x = input.ToFloats();
        var stepX = (Math.Max(x.Max(), 0) - Math.Min(x.Min(), 0)) / 255.0; // this run's own uint8 grid
        var w = QuantizationModels.Values(32 * 16, 4, 0.5f);
        var worst = 0.0;
        for (var n = 0; n < 16; n++)
        {
            var column = Enumerable.Range(0, 32).Select(k => w[k * 16 + n]).ToArray();
            var stepW = column.Max(Math.Abs) / 127.0;
            var bound = stepX / 2 * column.Sum(Math.Abs) + x.Sum(Math.Abs) * stepW / 2 + 32 * stepX / 2 * stepW / 2 + 1e-5 * (1 + Math.Abs(expected[n]));
            var error = Math.Abs(actual[n] - expected[n]);
            Assert.True(error <= bound, $"output {n}: error {error:G4} exceeds the bound {bound:G4}");
            worst = Math.Max(worst, error / bound);
        }
        Assert.InRange(worst, 0.01, 1);
    }

    [Fact]
    public void Both_forms_run_as_the_same_fused_kernel_and_compute_the_same_outputs()
    {
        var model = Mlp();
        var standard = Quantized(model, DynamicQuantizationForm.Standard);
        var fused = Quantized(model, DynamicQuantizationForm.Fused);

        Assert.Contains("DynamicQuantizeLinear", standard.Graph.Node.Select(n => n.OpType));
        Assert.DoesNotContain(standard.OpsetImport, o => o.Domain == "com.microsoft");
        var standardOps = OptimizedGraph.OpTypes(standard);
        Assert.Equal(["DynamicQuantizeMatMul", "Relu", "DynamicQuantizeMatMul"], standardOps);
        Assert.Equal(standardOps, OptimizedGraph.OpTypes(fused));
        Assert.Equal(Run(standard, Input()), Run(fused, Input()), (a, b) => Math.Abs(a - b) <= 1e-5f * Math.Max(1, Math.Abs(a)));
        AssertClose(Run(model, Input()), Run(standard, Input()));
    }

    [Theory]
    [InlineData(0.5f, 1f, null)]
    [InlineData(1f, 2f, null)]
    [InlineData(1.5f, 0.5f, new long[] { 1, 24 })]
    [InlineData(1f, 1f, new long[] { 4, 24 })]  // a bias per row and feature: a broadcast Add after the kernel
    [InlineData(1f, 1f, new long[] { 1 })]      // a scalar bias
    public void Gemm_alpha_beta_and_bias_shapes_are_kept(float alpha, float beta, long[]? biasShape)
    {
        var model = Mlp(alpha: alpha, beta: beta, biasShape: biasShape);
        foreach (var form in Enum.GetValues<DynamicQuantizationForm>())
            AssertClose(Run(model, Input()), Run(Quantized(model, form), Input()));
    }

    [Fact]
    public void Only_the_named_layers_are_quantized_and_what_is_left_is_said()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 3, 8, 8)
            .Input("cond", DataType.Bool)
            .Initializer("cw", QuantizationModels.Values(8 * 27, 1), 8, 3, 3, 3)
            .Initializer("w1", QuantizationModels.Values(512 * 16, 2), 512, 16)
            .Initializer("w2", QuantizationModels.Values(16 * 16, 3), 16, 16)
            .Initializer("tiny", QuantizationModels.Values(16 * 4, 4), 16, 4)
            .Initializer("at", QuantizationModels.Values(16 * 16, 5), 16, 16)
            .Node("Conv", ["x", "cw"], ["c"], "conv", ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }))
            .Node("Flatten", ["c"], ["f"], "flatten")
            .Node("MatMul", ["f", "w1"], ["h"], "fc1")
            .Node("MatMul", ["h", "w2"], ["h2"], "fc2")
            .Node("MatMul", ["h2", "tiny"], ["y"], "small")
            .Node("Gemm", ["h2", "at"], ["t"], "transposed_a", ("transA", 1)) // [N,16]ᵀ × [16,16]: the batch must be 16
            .Output("y", DataType.Float, "N", 4)
            .Output("t", DataType.Float, 16, 16)
            .Build();

        var pass = new Int8DynamicQuantization();
        var all = model.Clone();
        Assert.Equal(2, pass.Apply(all));
        var reasons = pass.Skipped.ToDictionary(s => s.Node, s => s.Reason);
        Assert.Equal(["conv", "small", "transposed_a"], reasons.Keys.Order());
        Assert.Contains("ConvInteger", reasons["conv"]);
        Assert.Contains("fewer than 128", reasons["small"]);
        Assert.Contains("transA", reasons["transposed_a"]);
        Assert.Equal(["fc1", "fc2"], Int8DynamicQuantization.EligibleNodes(model));

        var one = model.Clone();
        Assert.Equal(1, new Int8DynamicQuantization(new HashSet<string> { "fc2" }).Apply(one));
        Assert.Contains(one.Graph.Initializer, t => t.Name == "w1");
        Assert.DoesNotContain(one.Graph.Initializer, t => t.Name == "w2");
        var feed = new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([16, 3, 8, 8], 6), ["cond"] = NdArray.Create<bool>([], [true]) };
        using var original = new ModelRunner(model, "model");
        using var quantized = new ModelRunner(all, "all");
        AssertClose(original.Run(feed)["y"].ToFloats(), quantized.Run(feed)["y"].ToFloats());
    }

    [Fact]
    public void An_opset_9_model_takes_only_the_fused_form()
    {
        var model = Mlp(opset: 9);
        Assert.False(Int8DynamicQuantization.CanApply(model, DynamicQuantizationForm.Standard, out var reason));
        Assert.Contains("opset 9", reason);
        var unchanged = model.Clone();
        Assert.Equal(0, new Int8DynamicQuantization().Apply(unchanged));
        Assert.Equal(model, unchanged);

        Assert.True(Int8DynamicQuantization.CanApply(model, DynamicQuantizationForm.Fused, out _));
        AssertClose(Run(model, Input()), Run(Quantized(model, DynamicQuantizationForm.Fused), Input()));
    }

    [Fact]
    public void A_shared_weight_is_stored_once()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 16)
            .Initializer("w", QuantizationModels.Values(256, 7), 16, 16)
            .Node("MatMul", ["x", "w"], ["h"], "first")
            .Node("MatMul", ["h", "w"], ["y"], "second")
            .Output("y", DataType.Float, "N", 16)
            .Build();
        var quantized = Quantized(model, DynamicQuantizationForm.Standard);
        Assert.Single(quantized.Graph.Initializer, t => t.DataType == (int)DataType.Int8);
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name == "w");
        var input = SyntheticInputs.Uniform([3, 16], 8);
        using var a = new ModelRunner(model, "model");
        using var b = new ModelRunner(quantized, "quantized");
        AssertClose(a.Run(Feed("x", input))["y"].ToFloats(), b.Run(Feed("x", input))["y"].ToFloats());
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        var spread = expected.Max() - expected.Min();
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 0.03 * spread, $"largest error {worst:G4} is more than 3% of the outputs' spread {spread:G4}");
        Assert.True(worst > 0, "the outputs are identical: nothing was quantized");
    }
}
