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

    [Theory]
    [InlineData("", "empty")]
    [InlineData("modelcompression-signature\t2\n", "version 2")]
    [InlineData("modelcompression-signature\t1\nclass\tA\nmodel\tm.onnx\noutput\ty\tfloat\t1,x\n", "line 4")]
    [InlineData("modelcompression-signature\t1\nclass\tA\nmodel\tm.onnx\n", "no 'output'")]
    public void Malformed_sidecars_say_what_is_wrong(string text, string expected)
    {
        var e = Assert.Throws<FormatException>(() => SignatureSidecar.Read(text));
        Assert.Contains(expected, e.Message);
    }
}
