using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Quantization.Static;

/// <summary>
/// Pins what ONNX Runtime 1.31 fuses at session load, which decides the form <see cref="Core.Passes.Quantization.Static.Int8StaticQuantization"/>
/// writes Gemm layers in. If an ORT upgrade fuses a QDQ Gemm, these fail: then the pass can write plain QDQ Gemms.
/// </summary>
public class OnnxRuntimeQdqFusionTests
{
    private static OnnxBuilder QuantizedOperands() => new OnnxBuilder(13)
        .Input("x", DataType.Float, "N", 16)
        .Initializer("xs", NdArray.Create<float>([], [0.01f]))
        .Initializer("xz", NdArray.Create<byte>([], [128]))
        .Initializer("wq", NdArray.Create<sbyte>([16, 8], Enumerable.Range(0, 128).Select(i => (sbyte)(i % 255 - 127)).ToArray()))
        .Initializer("ws", NdArray.Create<float>([8], Enumerable.Repeat(0.1f, 8).ToArray()))
        .Initializer("bq", NdArray.Create<int>([8], new int[8]))
        .Initializer("bs", NdArray.Create<float>([8], Enumerable.Repeat(0.001f, 8).ToArray()))
        .Initializer("b", NdArray.Create<float>([8], Enumerable.Repeat(0.5f, 8).ToArray()))
        .Node("QuantizeLinear", ["x", "xs", "xz"], ["xq"])
        .Node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"])
        .Node("DequantizeLinear", ["wq", "ws"], ["wd"], ("axis", 1))
        .Output("y", DataType.Float, "N", 8);

    [Fact]
    public void A_qdq_matmul_is_fused()
    {
        var model = QuantizedOperands().Node("MatMul", ["xd", "wd"], ["y"]).Build();
        Assert.Equal(["QuantizeLinear", "MatMulIntegerToFloat"], OptimizedGraph.OpTypes(model));
    }

    [Fact]
    public void A_qdq_gemm_is_not_fused()
    {
        var model = QuantizedOperands()
            .Node("DequantizeLinear", ["bq", "bs"], ["bd"], ("axis", 0))
            .Node("Gemm", ["xd", "wd", "bd"], ["y"])
            .Build();
        Assert.Contains("Gemm", OptimizedGraph.OpTypes(model));
    }

    [Fact]
    public void A_qdq_matmul_followed_by_a_bias_add_becomes_an_unfused_gemm()
    {
        var model = QuantizedOperands()
            .Node("MatMul", ["xd", "wd"], ["product"])
            .Node("Add", ["product", "b"], ["y"])
            .Build();
        var ops = OptimizedGraph.OpTypes(model);
        Assert.Contains("Gemm", ops);
        Assert.DoesNotContain("MatMulIntegerToFloat", ops);
    }
}
