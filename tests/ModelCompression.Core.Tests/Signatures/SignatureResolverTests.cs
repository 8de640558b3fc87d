using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Signatures;

public class SignatureResolverTests
{
    [Fact]
    public void Declared_shapes_keep_names_unnamed_free_dimensions_and_fixed_sizes()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "batch", null, 3)
            .Node("Relu", ["x"], ["y"])
            .Output("y", DataType.Float, "batch", null, 3)
            .Build();

        var (inputs, outputs) = SignatureResolver.Resolve(model, Sample([1, 4, 3]), "model.onnx");

        Assert.Equal([1L, 4, 3], inputs.Single().Shape);
        Assert.Equal(["batch", "?", "3"], inputs.Single().DeclaredShape);
        Assert.Equal(["batch", "?", "3"], outputs.Single().DeclaredShape);
    }

    [Theory]
    [InlineData(true, new[] { "?", "?", "?" })]
    [InlineData(false, new[] { "1", "4", "3" })]
    public void An_output_without_a_declared_shape_is_free_when_an_input_is_and_fixed_otherwise(bool freeInput, string[] expected)
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, freeInput ? "N" : 1, 4, 3)
            .Node("Relu", ["x"], ["y"])
            .Output("y", DataType.Float)
            .Build();
        model.Graph.Output[0].Type.TensorType.Shape = null; // no shape at all, as some exporters write

        var (_, outputs) = SignatureResolver.Resolve(model, Sample([1, 4, 3]), "model.onnx");

        Assert.Equal([1L, 4, 3], outputs.Single().Shape);
        Assert.Equal(expected, outputs.Single().DeclaredShape);
    }

    private static Dictionary<string, NdArray> Sample(long[] shape) =>
        new() { ["x"] = NdArray.Create<float>(shape, new float[shape.Aggregate(1L, (a, d) => a * d)]) };
}
