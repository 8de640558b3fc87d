using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Statistics;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.LowRank;

public class LowRankFactorizationTests
{
    private static NdArray Random(int seed, params long[] shape) => SyntheticInputs.Uniform(shape, seed);

    private static Dictionary<string, NdArray> Feed(params long[] shape) => new() { ["x"] = Random(99, shape) };

    private static LowRankFactorization Pass(string node, int rank, bool anyRank = false, SpectrumCache? cache = null) =>
        new(new Dictionary<string, int> { [node] = rank }, cache ?? new SpectrumCache()) { AllowsLargerFactors = anyRank };

    // x [B, K] → Gemm(x, W, C) → y [B, N], W stored [K, N] or, with transB, [N, K].
    private static ModelProto Gemm(int k, int n, bool transB, bool bias, float alpha = 1f, float beta = 1f, NdArray? weight = null, long[]? biasShape = null)
    {
        var builder = new OnnxBuilder()
            .Input("x", DataType.Float, "B", k)
            .Initializer("w", weight ?? Random(1, transB ? [n, k] : [k, n]))
            .Output("y", DataType.Float, "B", n);
        if (bias) builder.Initializer("c", Random(2, biasShape ?? [n]));
        return builder.Node("Gemm", bias ? ["x", "w", "c"] : ["x", "w"], ["y"], "fc",
            ("transB", transB ? 1L : 0L), ("alpha", alpha), ("beta", beta)).Build();
    }

    // x [2, 5, K] → MatMul(x, W [K, N]) → y [2, 5, N].
    private static ModelProto MatMul(int k, int n, NdArray? weight = null) => new OnnxBuilder()
        .Input("x", DataType.Float, 2, 5, k)
        .Initializer("w", weight ?? Random(1, k, n))
        .Node("MatMul", ["x", "w"], ["y"], "proj")
        .Output("y", DataType.Float, 2, 5, n)
        .Build();

    // x [1, C, 9, 9] → Conv 1×1 (C → M, bias, stride 2, pads) → y [1, M, 6, 6].
    private static ModelProto Conv(int c, int m, NdArray? weight = null) => new OnnxBuilder()
        .Input("x", DataType.Float, 1, c, 9, 9)
        .Initializer("w", weight ?? Random(1, m, c, 1, 1))
        .Initializer("b", Random(2, m))
        .Node("Conv", ["x", "w", "b"], ["y"], "pointwise",
            ("kernel_shape", new long[] { 1, 1 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 2, 2 }))
        .Output("y", DataType.Float, 1, m, 6, 6)
        .Build();

    // A rank-r matrix: the product of random [rows, r] and [r, columns] factors.
    private static float[] RankDeficient(int rows, int columns, int rank, int seed)
    {
        var left = Random(seed, rows, rank).ToFloats();
        var right = Random(seed + 1, rank, columns).ToFloats();
        var product = new float[rows * columns];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < columns; j++)
            {
                double sum = 0;
                for (var r = 0; r < rank; r++) sum += left[i * rank + r] * right[r * columns + j];
                product[i * columns + j] = (float)sum;
            }
        return product;
    }

    private static float[] Transposed(float[] values, int rows, int columns) =>
        Enumerable.Range(0, values.Length).Select(i => values[i % rows * columns + i / rows]).ToArray();

    public static TheoryData<string, Func<ModelProto>, long[]> FullRankCases => new()
    {
        { "Gemm transB 0 with bias", () => Gemm(12, 7, transB: false, bias: true), [3, 12] },
        { "Gemm transB 1 without bias", () => Gemm(12, 7, transB: true, bias: false), [3, 12] },
        { "Gemm alpha, beta, C [1, N]", () => Gemm(9, 13, transB: true, bias: true, alpha: 0.5f, beta: 2f, biasShape: [1, 13]), [4, 9] },
        { "MatMul with a rank-3 input", () => MatMul(10, 6), [2, 5, 10] },
        { "1×1 Conv, stride 2, padding", () => Conv(8, 5), [1, 8, 9, 9] },
    };

    [Theory]
    [MemberData(nameof(FullRankCases))]
    public void At_full_rank_the_factors_reproduce_the_layer(string _, Func<ModelProto> build, long[] input)
    {
        var model = build();
        var node = model.Graph.Node[0];
        var layer = LowRankFactorization.EligibleNodes(model).Single();

        var (factored, rewrites) = PassTestKit.Apply(Pass(node.Name, Math.Min(layer.Inputs, layer.Outputs), anyRank: true), model);

        Assert.Equal(1, rewrites);
        ModelEquivalence.AssertSameOutputs(model, factored, Feed(input));
        var a = factored.Graph.Node.Single(n => n.Name == LowRankFactorization.FirstFactorName(node.Name));
        var b = factored.Graph.Node.Single(n => n.Name == LowRankFactorization.SecondFactorName(node.Name));
        Assert.Equal(node.Output[0], b.Output[0]); // the original output value: nothing downstream changes
        Assert.Equal(a.Output[0], b.Input[0]);
        Assert.Equal(2, factored.Graph.Node.Count);
        Assert.DoesNotContain(factored.Graph.Initializer, t => t.Name == "w"); // the weight the factors replace is gone
    }

    [Fact]
    public void A_gemm_with_transposed_input_keeps_it_on_the_first_factor()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 12, "B")
            .Initializer("w", Random(1, 12, 7)).Initializer("c", Random(2, 7))
            .Node("Gemm", ["x", "w", "c"], ["y"], "fc", ("transA", 1L))
            .Output("y", DataType.Float, "B", 7)
            .Build();

        var (factored, _) = PassTestKit.Apply(Pass("fc", 7, anyRank: true), model);

        ModelEquivalence.AssertSameOutputs(model, factored, Feed(12, 3));
        Assert.Equal(["Gemm", "Gemm"], factored.Graph.Node.Select(n => n.OpType));
    }

    public static TheoryData<string, Func<float[], ModelProto>, long[]> RankThreeCases => new()
    {
        { "Gemm", w => Gemm(24, 16, transB: true, bias: true, weight: NdArray.Create<float>([16, 24], Transposed(w, 24, 16))), [3, 24] },
        { "MatMul", w => MatMul(24, 16, NdArray.Create<float>([24, 16], w)), [2, 5, 24] },
        { "Conv", w => Conv(24, 16, NdArray.Create<float>([16, 24, 1, 1], Transposed(w, 24, 16))), [1, 24, 9, 9] },
    };

    [Theory]
    [MemberData(nameof(RankThreeCases))]
    public void A_weight_of_rank_r_is_reproduced_at_rank_r_in_a_smaller_file(string _, Func<float[], ModelProto> build, long[] input)
    {
        var model = build(RankDeficient(24, 16, rank: 3, seed: 5)); // as inputs × outputs
        var node = model.Graph.Node[0].Name;

        var (factored, rewrites) = PassTestKit.Apply(Pass(node, 3), model);

        Assert.Equal(1, rewrites);
        ModelEquivalence.AssertSameOutputs(model, factored, Feed(input));
        var saved = OnnxModelFile.SizeOf(model) - OnnxModelFile.SizeOf(factored);
        // 3·(24 + 16) floats instead of 24·16, less what the second node and the names cost.
        Assert.True(saved > 4 * (24 * 16 - 3 * (24 + 16)) - 300, $"saved only {saved} bytes");
    }

    [Fact]
    public void The_error_falls_as_the_rank_grows_as_the_discarded_singular_values_predict()
    {
        var model = MatMul(48, 32);
        var spectrum = LowRankFactorization.Spectra(model, new SpectrumCache())["proj"];
        var inputs = new Dictionary<string, NdArray> { ["x"] = Random(7, 2, 5, 48) };
        var expected = ModelEquivalence.Run(model, inputs)["y"].ToFloats();

        var errors = new List<double>();
        foreach (var rank in new[] { 1, 4, 8, 12, 16, 19 })
        {
            var (factored, _) = PassTestKit.Apply(Pass("proj", rank), model);
            var actual = ModelEquivalence.Run(factored, inputs)["y"].ToFloats();
            errors.Add(Math.Sqrt(expected.Zip(actual, (e, a) => (double)(e - a) * (e - a)).Sum()));
        }

        for (var i = 1; i < errors.Count; i++) Assert.True(errors[i] < errors[i - 1], $"errors by rank: {string.Join(", ", errors)}");
        Assert.Equal(19, LowRankFactorization.MaxUsefulRank(48, 32)); // 19·80 = 1520 < 1536 = 48·32
        Assert.True(spectrum.RetainedEnergy(19) < 1 && spectrum.RetainedEnergy(19) > spectrum.RetainedEnergy(16));
    }

    [Fact]
    public void The_file_shrinks_and_the_flops_drop_and_ranks_that_would_grow_the_file_are_refused()
    {
        var model = Gemm(64, 32, transB: true, bias: true);
        var feed = Feed(1, 64);
        var before = ModelStatistics.Of(model, feed);

        var (factored, rewrites) = PassTestKit.Apply(Pass("fc", 16), model);
        var after = ModelStatistics.Of(factored, feed);

        Assert.Equal(1, rewrites);
        Assert.True(OnnxModelFile.SizeOf(model) - OnnxModelFile.SizeOf(factored) > 4 * (64 * 32 - 16 * 96) - 200);
        Assert.Equal(before.Parameters - 64 * 32 + 16 * (64 + 32), after.Parameters);
        Assert.Equal(before.Flops - 2 * (64 * 32 - 16 * (64 + 32)), after.Flops);

        // Up to the value bound (21·96 = 2016 < 2048) a rank is applied only when the bytes shrink too; beyond it, never.
        Assert.Equal(21, LowRankFactorization.MaxUsefulRank(64, 32));
        foreach (var rank in Enumerable.Range(17, 6))
        {
            var pass = Pass("fc", rank);
            var (result, applied) = PassTestKit.Apply(pass, model);
            Assert.True(OnnxModelFile.SizeOf(result) < OnnxModelFile.SizeOf(model) || (applied == 0 && result.Equals(model)), $"rank {rank}");
            if (rank > 21) Assert.Contains("would not shrink the layer", Assert.Single(pass.Skipped).Reason);
            if (applied == 0) Assert.Contains("shrink", Assert.Single(pass.Skipped).Reason);
        }
    }

    [Fact]
    public void Only_pointwise_ungrouped_convolutions_and_two_dimensional_weights_are_eligible()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 8, 6, 6)
            .Input("s", DataType.Float, 3, 6)
            .Initializer("k3", Random(1, 8, 8, 3, 3))
            .Initializer("grouped", Random(2, 8, 4, 1, 1))
            .Initializer("pointwise", Random(3, 16, 8, 1, 1))
            .Initializer("batched", Random(4, 2, 6, 6))
            .Initializer("tall", Random(5, 6, 40))
            .Node("Conv", ["x", "k3"], ["a"], "k3", ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("Conv", ["a", "grouped"], ["b"], "grouped", ("group", 2L))
            .Node("Conv", ["b", "pointwise"], ["c"], "pointwise")
            .Node("MatMul", ["s", "batched"], ["d"], "batched")
            .Node("MatMul", ["s", "tall"], ["e"], "tall")
            .Output("c", DataType.Float, 1, 16, 6, 6).Output("d", DataType.Float, 2, 3, 6).Output("e", DataType.Float, 3, 40)
            .Build();

        var eligible = LowRankFactorization.EligibleNodes(model);

        Assert.Equal([new LowRankLayer("pointwise", "Conv", 8, 16), new LowRankLayer("tall", "MatMul", 6, 40)], eligible);
        Assert.Equal(5, eligible[0].MaxUsefulRank); // 5·24 = 120 < 128
        var pass = new LowRankFactorization(new Dictionary<string, int> { ["k3"] = 2, ["grouped"] = 2, ["tall"] = 3 });
        Assert.Equal(1, pass.Apply(model.Clone()));
        Assert.Equal(["grouped", "k3"], pass.Skipped.Select(s => s.Node));
    }

    [Fact]
    public void Rank_for_energy_is_the_smallest_rank_keeping_that_share_of_the_squared_singular_values()
    {
        double[] singular = [3, 2, 1]; // energies 9, 4, 1 of 14

        Assert.Equal(1, LowRankFactorization.RankForEnergy(singular, 0.5));
        Assert.Equal(2, LowRankFactorization.RankForEnergy(singular, 0.9)); // 13/14 = 0.93
        Assert.Equal(3, LowRankFactorization.RankForEnergy(singular, 0.95));
        Assert.Equal(3, LowRankFactorization.RankForEnergy(singular, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LowRankFactorization.RankForEnergy(singular, 0));
    }

    [Fact]
    public void The_spectrum_is_the_weights_and_each_weight_is_decomposed_once_per_cache()
    {
        // W = diag(4, 3, 2, 1) rotated by permutations: its singular values are exactly 4, 3, 2, 1.
        var w = new float[4 * 6];
        (int Row, int Column, float Value)[] entries = [(0, 5, 1), (1, 0, 4), (2, 3, 2), (3, 1, -3)];
        foreach (var (row, column, value) in entries) w[row * 6 + column] = value;
        var model = MatMul(4, 6, NdArray.Create<float>([4, 6], w));
        var cache = new SpectrumCache();

        var spectrum = LowRankFactorization.Spectra(model, cache)["proj"];
        PassTestKit.Apply(Pass("proj", 2, cache: cache), model);
        PassTestKit.Apply(Pass("proj", 1, cache: cache), model);

        Assert.Equal([4.0, 3.0, 2.0, 1.0], spectrum.SingularValues.Select(s => Math.Round(s, 12)));
        Assert.Equal(2, spectrum.RankForEnergy(0.8)); // 25 of 30
        Assert.Equal(1, cache.Computed);
    }

    [Fact]
    public void Later_steps_find_the_factors_by_their_names()
    {
        var model = Gemm(256, 128, transB: true, bias: true);
        var (factored, _) = PassTestKit.Apply(Pass("fc", 32), model);
        var factors = new HashSet<string> { LowRankFactorization.FirstFactorName("fc"), LowRankFactorization.SecondFactorName("fc") };

        var quantized = factored.Clone();
        var rewrites = new Int8WeightQuantization(factors).Apply(quantized);

        Assert.Equal(2, rewrites);
        Assert.Equal(factors.Order(), LowRankFactorization.EligibleNodes(factored).Select(l => l.Node).Order());
        var (error, magnitude) = Quantization.QuantizationTestKit.Compare(factored, quantized, Feed(4, 256));
        Assert.True(error < 0.02 * magnitude, $"int8 factors: error {error} against outputs up to {magnitude}");
    }

    [Fact]
    public void A_layer_in_an_if_branch_reading_an_outer_weight_gets_its_factors_in_the_branch()
    {
        var branch = new OnnxBuilder()
            .Node("MatMul", ["x", "w"], ["t"], "inner")
            .Output("t", DataType.Float, 3, 16)
            .Graph();
        var other = new OnnxBuilder().Node("Identity", ["z"], ["e"], "pass_through").Output("e", DataType.Float, 3, 16).Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 3, 12).Input("z", DataType.Float, 3, 16).Input("cond", DataType.Bool)
            .Initializer("w", Random(1, 12, 16))
            .Node("If", ["cond"], ["y"], "branch", ("then_branch", branch), ("else_branch", other))
            .Output("y", DataType.Float, 3, 16)
            .Build();

        var (factored, rewrites) = PassTestKit.Apply(Pass("inner", 12, anyRank: true), model);

        Assert.Equal(1, rewrites);
        var then = factored.Graph.Node.Single().Attribute.Single(a => a.Name == "then_branch").G;
        Assert.Equal(2, then.Initializer.Count);
        Assert.Empty(factored.Graph.Initializer);
        foreach (var condition in new[] { true, false })
            ModelEquivalence.AssertSameOutputs(model, factored, new Dictionary<string, NdArray>
            {
                ["x"] = Random(3, 3, 12), ["z"] = Random(4, 3, 16), ["cond"] = NdArray.Create<bool>([], [condition]),
            });
    }
}
