using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class MatMulAddToGemmTests
{
    private static readonly Dictionary<string, NdArray> A = new() { ["a"] = Random(9, 3, 4) };

    private static ModelProto Model(long[] biasShape, bool biasFirst = false, object rows = null!) =>
        new OnnxBuilder().Input("a", DataType.Float, rows ?? 3L, 4)
            .Initializer("b", Random(1, 4, 5))
            .Initializer("c", Random(2, biasShape))
            .Node("MatMul", ["a", "b"], ["m"])
            .Node("Add", biasFirst ? ["c", "m"] : ["m", "c"], ["y"])
            .Output("y", DataType.Float, rows ?? 3L, 5).Build();

    public static TheoryData<long[], bool> FusableBiases => new()
    {
        { [5], false }, { [1, 5], false }, { [3, 5], false }, { [3, 1], false }, { [], false }, { [5], true },
    };

    [Theory]
    [MemberData(nameof(FusableBiases))]
    public void Fuses_into_gemm_when_the_bias_broadcasts_as_gemms_c(long[] biasShape, bool biasFirst)
    {
        var model = Model(biasShape, biasFirst);

        var (rewritten, count) = Apply(new MatMulAddToGemm(), model);

        Assert.Equal(1, count);
        var gemm = Assert.Single(rewritten.Graph.Node);
        Assert.Equal("Gemm", gemm.OpType);
        Assert.Equal(["a", "b", "c"], gemm.Input);
        Assert.Equal("y", gemm.Output.Single());
        ModelEquivalence.AssertSameOutputs(model, rewritten, A);
    }

    [Fact]
    public void Does_not_fuse_a_rank_3_product()
    {
        var model = new OnnxBuilder().Input("a", DataType.Float, 2, 3, 4)
            .Initializer("b", Random(1, 4, 5)).Initializer("c", Random(2, 5))
            .Node("MatMul", ["a", "b"], ["m"]).Node("Add", ["m", "c"], ["y"])
            .Output("y", DataType.Float, 2, 3, 5).Build();

        Assert.Equal(0, Apply(new MatMulAddToGemm(), model).Rewrites);
    }

    [Fact]
    public void Does_not_fuse_rows_of_bias_against_an_unknown_row_count()
    {
        Assert.Equal(0, Apply(new MatMulAddToGemm(), Model([3, 5], rows: "M")).Rewrites);
        Assert.Equal(1, Apply(new MatMulAddToGemm(), Model([5], rows: "M")).Rewrites);
    }

    [Fact]
    public void Does_not_fuse_when_the_product_is_read_elsewhere_or_the_bias_is_not_constant()
    {
        var shared = new OnnxBuilder().Input("a", DataType.Float, 3, 4)
            .Initializer("b", Random(1, 4, 5)).Initializer("c", Random(2, 5))
            .Node("MatMul", ["a", "b"], ["m"]).Node("Add", ["m", "c"], ["y"])
            .Output("y", DataType.Float, 3, 5).Output("m", DataType.Float, 3, 5).Build();
        var inputBias = new OnnxBuilder().Input("a", DataType.Float, 3, 4).Input("c", DataType.Float, 5)
            .Initializer("b", Random(1, 4, 5))
            .Node("MatMul", ["a", "b"], ["m"]).Node("Add", ["m", "c"], ["y"])
            .Output("y", DataType.Float, 3, 5).Build();
        var bigBias = Model([2, 3, 5]);

        Assert.Equal(0, Apply(new MatMulAddToGemm(), shared).Rewrites);
        Assert.Equal(0, Apply(new MatMulAddToGemm(), inputBias).Rewrites);
        Assert.Equal(0, Apply(new MatMulAddToGemm(), bigBias).Rewrites);
    }
}
