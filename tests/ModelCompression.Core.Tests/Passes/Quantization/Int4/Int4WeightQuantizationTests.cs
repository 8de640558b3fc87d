using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Quantization.Int4;

public class Int4WeightQuantizationTests
{
    private const int K = 80, N = 24; // K not a multiple of 32, 64 or 128: the last block is padded

    private static ModelProto MatMulModel(long[] aShape, float[]? weights = null) => new OnnxBuilder()
        .Input("a", DataType.Float, aShape.Cast<object?>().ToArray())
        .Initializer("w", weights ?? Values(K * N, 1), K, N)
        .Node("MatMul", ["a", "w"], ["y"], "matmul")
        .Output("y", DataType.Float)
        .Build();

    public enum Bias { None, Vector, Matrix }

    private static ModelProto GemmModel(bool transB, Bias bias, float alpha = 1f, float beta = 1f)
    {
        var builder = new OnnxBuilder()
            .Input("a", DataType.Float, 3, K)
            .Initializer("w", Values(K * N, 1), transB ? [N, K] : [K, N]);
        var inputs = new List<string> { "a", "w" };
        if (bias == Bias.Vector) builder.Initializer("c", Values(N, 2), 1, N);
        if (bias == Bias.Matrix) builder.Input("c", DataType.Float, 3, N);
        if (bias != Bias.None) inputs.Add("c");
        return builder
            .Node("Gemm", inputs.ToArray(), ["y"], "gemm", ("transB", transB ? 1 : 0), ("alpha", alpha), ("beta", beta))
            .Output("y", DataType.Float, 3, N)
            .Build();
    }

    private static Dictionary<string, NdArray> Inputs(ModelProto model) =>
        model.Graph.Input.Select((input, i) => (input.Name, Shape: input.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray()))
            .ToDictionary(x => x.Name, x => SyntheticInputs.Uniform(x.Shape, 30 + x.Shape.Length));

    /// <summary>The model with its weight replaced by what MatMulNBits computes with: the dequantized int4 weights.</summary>
    private static ModelProto WithDequantizedWeight(ModelProto model, int blockSize, bool symmetric)
    {
        var copy = model.Clone();
        var w = copy.Graph.Initializer.Single(t => t.Name == "w");
        var transposed = copy.Graph.Node[0].OpType == "Gemm" && copy.Graph.Node[0].Attribute.Any(a => a.Name == "transB" && a.I == 1);
        var values = TensorProtoConverter.ToNdArray(w).ToFloats();
        var rows = transposed ? values : Transpose(values, K, N);
        var dequantized = BlockQuantizer.Quantize(rows, N, K, blockSize, symmetric).Dequantize();
        var replaced = TensorProtoConverter.ToTensorProto(NdArray.Create<float>(w.Dims.ToArray(), transposed ? dequantized : Transpose(dequantized, N, K)), "w");
        copy.Graph.Initializer[copy.Graph.Initializer.IndexOf(w)] = replaced;
        return copy;
    }

    private static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < columns; c++) result[c * rows + r] = values[r * columns + c];
        return result;
    }

    private static void AssertComputesWithTheDequantizedWeights(ModelProto model, ModelProto quantized, int blockSize, bool symmetric)
    {
        var inputs = Inputs(model);
        // ONNX Runtime computes exactly with our dequantized weights (up to float summation order)...
        var (error, magnitude) = Compare(WithDequantizedWeight(model, blockSize, symmetric), quantized, inputs);
        Assert.InRange(error, 0, 1e-5 * Math.Max(1, magnitude));
        // ...which are within 4-bit rounding of the originals: outputs move, but far less than their size.
        var (int4Error, int4Magnitude) = Compare(model, quantized, inputs);
        Assert.InRange(int4Error, 1e-6, 0.1 * int4Magnitude);
    }

    [Theory]
    [InlineData(32, true)]
    [InlineData(64, true)]
    [InlineData(128, true)]
    [InlineData(16, false)]
    [InlineData(32, false)]
    public void MatMul_becomes_MatMulNBits_computing_with_the_dequantized_weights(int blockSize, bool symmetric)
    {
        var model = MatMulModel([5, K]);
        var quantized = model.Clone();

        Assert.Equal(1, new Int4WeightQuantization(settings: new Int4Settings(blockSize, symmetric)).Apply(quantized));

        OnnxStructure.Validate(quantized, "int4 output");
        var node = Assert.Single(quantized.Graph.Node);
        Assert.Equal(("MatMulNBits", "com.microsoft", "matmul"), (node.OpType, node.Domain, node.Name));
        Assert.Equal([("K", K), ("N", N), ("bits", 4), ("block_size", blockSize)], node.Attribute.Select(a => (a.Name, a.I)));
        var blocks = (K + blockSize - 1) / blockSize;
        var b = quantized.Graph.Initializer.Single(t => t.Name == node.Input[1]);
        Assert.Equal((int)DataType.Uint8, b.DataType);
        Assert.Equal([N, blocks, blockSize / 2], b.Dims);
        Assert.Equal([N, blocks], quantized.Graph.Initializer.Single(t => t.Name == node.Input[2]).Dims);
        Assert.Equal(symmetric ? 3 : 4, node.Input.Count);
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name == "w");
        Assert.Contains(quantized.OpsetImport, o => o.Domain == "com.microsoft" && o.Version == 1);
        AssertComputesWithTheDequantizedWeights(model, quantized, blockSize, symmetric);
    }

    [Fact]
    public void Weights_on_the_int4_grid_give_the_float_models_outputs()
    {
        var random = new Random(4);
        var weights = new float[K * N];
        for (var n = 0; n < N; n++)
            for (var k = 0; k < K; k++)
                weights[k * N + n] = (k % 32 == 0 ? -8 : random.Next(16) - 8) * 0.01f * (1 + n % 5 + k / 32);
        var model = MatMulModel([5, K], weights);
        var quantized = model.Clone();

        new Int4WeightQuantization(settings: new Int4Settings(BlockSize: 32)).Apply(quantized);

        var (error, magnitude) = Compare(model, quantized, Inputs(model));
        Assert.InRange(error, 0, 1e-5 * magnitude);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Activations_of_any_rank_keep_their_leading_axes(int rank)
    {
        long[] shape = rank switch { 1 => [K], 3 => [2, 5, K], _ => [2, 3, 4, K] };
        var model = MatMulModel(shape);
        var quantized = model.Clone();

        new Int4WeightQuantization().Apply(quantized);

        Assert.Equal([.. shape[..^1], N], ModelEquivalence.Run(quantized, Inputs(model))["y"].Shape.ToArray());
        AssertComputesWithTheDequantizedWeights(model, quantized, 32, true);
    }

    [Theory]
    [InlineData(false, Bias.None)]
    [InlineData(true, Bias.None)]
    [InlineData(false, Bias.Vector)]
    [InlineData(true, Bias.Vector)]
    [InlineData(false, Bias.Matrix)]
    [InlineData(true, Bias.Matrix)]
    public void Gemm_becomes_MatMulNBits_with_its_bias(bool transB, Bias bias)
    {
        var model = GemmModel(transB, bias);
        var quantized = model.Clone();

        Assert.Equal(1, new Int4WeightQuantization().Apply(quantized));

        OnnxStructure.Validate(quantized, "int4 output");
        var expectedOps = bias == Bias.Matrix ? new[] { "MatMulNBits", "Add" } : ["MatMulNBits"];
        Assert.Equal(expectedOps, quantized.Graph.Node.Select(n => n.OpType));
        var node = quantized.Graph.Node[0];
        if (bias == Bias.Vector)
        {
            Assert.Equal(6, node.Input.Count); // A, B, scales, zero_points (absent), g_idx (absent), bias
            Assert.Equal(["", ""], node.Input.Skip(3).Take(2));
            Assert.Equal([N], quantized.Graph.Initializer.Single(t => t.Name == node.Input[5]).Dims);
            Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name == "c" && t.Dims.Count == 2);
        }
        AssertComputesWithTheDequantizedWeights(model, quantized, 32, true);
    }

    [Fact]
    public void Gemm_alpha_goes_into_the_scales_and_beta_into_a_constant_bias()
    {
        var model = GemmModel(transB: true, Bias.Vector, alpha: 0.5f, beta: 2f);
        var quantized = model.Clone();

        Assert.Equal(1, new Int4WeightQuantization().Apply(quantized));

        AssertComputesWithTheDequantizedWeights(model, quantized, 32, true);
    }

    [Fact]
    public void Gemm_with_transposed_A_or_a_scaled_bias_input_is_left_alone()
    {
        var transA = GemmModel(false, Bias.None);
        transA.Graph.Node[0].Attribute.Add(OnnxFactory.Attribute("transA", 1));
        transA.Graph.Input[0] = OnnxFactory.TensorValueInfo("a", DataType.Float, (long)K, 3L);

        Assert.Equal(0, new Int4WeightQuantization().Apply(transA));
        Assert.Equal(0, new Int4WeightQuantization().Apply(GemmModel(false, Bias.Matrix, beta: 2f)));
        Assert.Empty(Int4WeightQuantization.Eligible(transA));
    }

    [Fact]
    public void Accuracy_level_4_quantizes_activations_too_and_stays_close()
    {
        var model = MatMulModel([5, K]);
        var quantized = model.Clone();

        new Int4WeightQuantization(settings: new Int4Settings(AccuracyLevel: 4)).Apply(quantized);

        Assert.Contains(quantized.Graph.Node[0].Attribute, a => a.Name == "accuracy_level" && a.I == 4);
        var (error, magnitude) = Compare(WithDequantizedWeight(model, 32, true), quantized, Inputs(model));
        Assert.InRange(error, 1e-6, 0.02 * magnitude); // int8 activations: no longer exact, still close
    }

    [Fact]
    public void Only_the_named_nodes_are_replaced_and_a_shared_weight_is_packed_once()
    {
        var model = new OnnxBuilder()
            .Input("a", DataType.Float, 2, 64)
            .Initializer("w", Values(64 * 64, 1), 64, 64)
            .Initializer("v", Values(64 * 64, 2), 64, 64)
            .Node("MatMul", ["a", "w"], ["h1"], "first")
            .Node("MatMul", ["h1", "w"], ["h2"], "second")
            .Node("MatMul", ["h2", "v"], ["y"], "third")
            .Output("y", DataType.Float, 2, 64)
            .Build();
        var quantized = model.Clone();

        Assert.Equal(2, new Int4WeightQuantization(new HashSet<string> { "first", "second" }).Apply(quantized));

        Assert.Equal(["MatMulNBits", "MatMulNBits", "MatMul"], quantized.Graph.Node.Select(n => n.OpType));
        Assert.Single(quantized.Graph.Initializer, t => t.DataType == (int)DataType.Uint8);
        Assert.DoesNotContain(quantized.Graph.Initializer, t => t.Name == "w");
        var (error, magnitude) = Compare(model, quantized, Inputs(model));
        Assert.InRange(error, 1e-6, 0.25 * magnitude); // two int4 products in a row: their errors compound
    }

    [Fact]
    public void A_MatMul_inside_an_if_branch_gets_its_packed_weight_in_the_branch()
    {
        var thenBranch = new OnnxBuilder().Node("MatMul", ["a", "w"], ["t"], "inner").Output("t", DataType.Float, 5, N).Graph();
        var elseBranch = new OnnxBuilder().Node("Neg", ["a2"], ["e"]).Output("e", DataType.Float, 5, N).Graph();
        var model = new OnnxBuilder()
            .Input("a", DataType.Float, 5, K).Input("a2", DataType.Float, 5, N).Input("cond", DataType.Bool)
            .Initializer("w", Values(K * N, 1), K, N)
            .Node("If", ["cond"], ["y"], "branch", ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 5, N)
            .Build();
        var quantized = model.Clone();

        Assert.Equal(1, new Int4WeightQuantization().Apply(quantized));

        OnnxStructure.Validate(quantized, "int4 output");
        Assert.Empty(quantized.Graph.Initializer);
        var branch = Branch(quantized, "then_branch");
        Assert.Equal("MatMulNBits", Assert.Single(branch.Node).OpType);
        Assert.Equal(2, branch.Initializer.Count);
        var inputs = new Dictionary<string, NdArray>
        {
            ["a"] = SyntheticInputs.Uniform([5, K], 1), ["a2"] = SyntheticInputs.Uniform([5, N], 2), ["cond"] = Condition(true),
        };
        var (error, magnitude) = Compare(model, quantized, inputs);
        Assert.InRange(error, 1e-6, 0.1 * magnitude);
    }

    [Fact]
    public void Small_weights_batched_weights_and_other_operators_are_left_alone()
    {
        var small = new OnnxBuilder()
            .Input("a", DataType.Float, 2, 16).Initializer("w", Values(256, 1), 16, 16)
            .Node("MatMul", ["a", "w"], ["y"]).Output("y", DataType.Float, 2, 16).Build();
        var batched = new OnnxBuilder()
            .Input("a", DataType.Float, 2, 3, 64).Initializer("w", Values(2 * 64 * 64, 1), 2, 64, 64)
            .Node("MatMul", ["a", "w"], ["y"]).Output("y", DataType.Float, 2, 3, 64).Build();
        var conv = new OnnxBuilder()
            .Input("x", DataType.Float, 1, 16, 8, 8).Initializer("w", Values(64 * 16 * 9, 1), 64, 16, 3, 3)
            .Node("Conv", ["x", "w"], ["y"]).Output("y", DataType.Float).Build();

        foreach (var model in new[] { small, batched, conv })
        {
            Assert.Equal(0, new Int4WeightQuantization().Apply(model));
            Assert.DoesNotContain(model.OpsetImport, o => o.Domain == "com.microsoft");
        }
    }

    [Fact]
    public void A_block_size_beyond_K_shrinks_to_K_rounded_up_to_a_power_of_two()
    {
        var model = new OnnxBuilder()
            .Input("a", DataType.Float, 2, 40).Initializer("w", Values(40 * 64, 1), 40, 64)
            .Node("MatMul", ["a", "w"], ["y"]).Output("y", DataType.Float, 2, 64).Build();
        var pass = new Int4WeightQuantization(settings: new Int4Settings(BlockSize: 128));

        pass.Apply(model);

        Assert.Equal((64, 64L), (pass.BlockSizeFor(40), model.Graph.Node[0].Attribute.Single(a => a.Name == "block_size").I));
        Assert.Equal([64L, 1, 32], model.Graph.Initializer.Single(t => t.DataType == (int)DataType.Uint8).Dims);
        Assert.Equal((16, 32, 128), (pass.BlockSizeFor(3), pass.BlockSizeFor(17), pass.BlockSizeFor(1000)));
        ModelEquivalence.Run(model, new Dictionary<string, NdArray> { ["a"] = SyntheticInputs.Uniform([2, 40], 1) });
    }

    [Theory]
    [InlineData(8, 0)]
    [InlineData(48, 0)]
    [InlineData(32, 5)]
    public void Settings_outside_what_onnx_runtime_accepts_are_rejected(int blockSize, int accuracyLevel) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new Int4WeightQuantization(settings: new Int4Settings(blockSize, true, accuracyLevel)));
}
