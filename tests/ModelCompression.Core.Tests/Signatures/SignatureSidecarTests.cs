using ModelCompression.Signatures;

namespace ModelCompression.Core.Tests.Signatures;

public class SignatureSidecarTests
{
    [Fact]
    public void Round_trips_names_with_tabs_newlines_and_backslashes()
    {
        var content = new SidecarContent("Model", "App.Ml", "Models/m.onnx",
            [new SidecarTensor("in\tput\\x", "float", [1, 3, 224, 224]), new SidecarTensor("scalar", "int64", [])],
            [new SidecarTensor("out\nput", "float16", [1, 10])]);

        var back = SignatureSidecar.Read(SignatureSidecar.Write(content));

        Assert.Equal("Model", back.ClassName);
        Assert.Equal("App.Ml", back.Namespace);
        Assert.Equal("Models/m.onnx", back.ModelPath);
        Assert.Equal(["in\tput\\x", "scalar"], back.Inputs.Select(i => i.Name));
        Assert.Equal([1L, 3, 224, 224], back.Inputs[0].Shape);
        Assert.Empty(back.Inputs[1].Shape);
        Assert.Equal("out\nput", back.Outputs[0].Name);
        Assert.Equal("float16", back.Outputs[0].ElementType);
    }

    [Fact]
    public void Round_trips_the_declared_shape_of_free_dimensions()
    {
        var content = new SidecarContent("PpocrRec", "Ocr", "m.onnx",
            [new SidecarTensor("x", "float", [1, 3, 48, 320], ["N", "3", "48", "W"])],
            [new SidecarTensor("y", "float", [1, 40, 6625], ["N", "?", "6625"])]);

        var text = SignatureSidecar.Write(content);
        var back = SignatureSidecar.Read(text);

        Assert.StartsWith("modelcompression-signature\t2\n", text);
        Assert.Contains("input\tx\tfloat\t1,3,48,320\tN,3,48,W\n", text);
        Assert.Equal(["N", "3", "48", "W"], back.Inputs[0].DeclaredShape);
        Assert.Equal(["N", "?", "6625"], back.Outputs[0].DeclaredShape);
        Assert.Equal([true, false, false, true], Enumerable.Range(0, 4).Select(back.Inputs[0].IsFree));
    }

    [Fact]
    public void Reads_version_1_without_declared_shapes_as_every_dimension_fixed()
    {
        var back = SignatureSidecar.Read("modelcompression-signature\t1\nclass\tA\nmodel\tm.onnx\ninput\tx\tfloat\t1,3\noutput\ty\tfloat\t\n");

        Assert.Equal(["1", "3"], back.Inputs[0].DeclaredShape);
        Assert.Empty(back.Outputs[0].DeclaredShape);
        Assert.False(back.Inputs[0].IsFree(0));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("modelcompression-signature\t3\n", "version 3")]
    [InlineData("modelcompression-signature\t2\nclass\tA\nmodel\tm.onnx\noutput\ty\tfloat\t1,2\n", "a shape and a declared shape")]
    [InlineData("modelcompression-signature\t2\nclass\tA\nmodel\tm.onnx\noutput\ty\tfloat\t1,2\tN\n", "declared shape has 1 dimensions")]
    [InlineData("modelcompression-signature\t2\nclass\tA\nmodel\tm.onnx\noutput\ty\tfloat\t1,2\tN,3\n", "declared dimension 1 is 3")]
    [InlineData("modelcompression-signature\t2\nclass\tA\nmodel\tm.onnx\noutput\ty\tfloat\t1,2\tN,\n", "declared dimension 1 is empty")]
    [InlineData("modelcompression-signature\t1\nclass\tA\nmodel\tm.onnx\noutput\ty\tfloat\t1,x\n", "line 4")]
    [InlineData("modelcompression-signature\t1\nclass\tA\nmodel\tm.onnx\n", "no 'output'")]
    public void Malformed_sidecars_say_what_is_wrong(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => SignatureSidecar.Read(text));
        Assert.Contains(expected, e.Message);
    }
}
