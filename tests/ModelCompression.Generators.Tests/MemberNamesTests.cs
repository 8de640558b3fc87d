extern alias Generators;

using Generators::ModelCompression.Generators;

namespace ModelCompression.Generators.Tests;

public class MemberNamesTests
{
    [Theory]
    [InlineData("softmax_11.tmp_0", "Softmax11Tmp0")]
    [InlineData("input", "Input")]
    [InlineData("stateN", "StateN")]
    [InlineData("123", "Output123")]
    [InlineData("input:0", "Input0")]
    [InlineData("::", "Output")]
    [InlineData("", "Output")]
    [InlineData("données_brutes", "DonnéesBrutes")]
    public void Names_are_the_ONNX_name_in_PascalCase(string onnxName, string expected) =>
        Assert.Equal(expected, MemberNames.Assign("Model", [(onnxName, false)]).Single());

    [Fact]
    public void Names_are_unique_and_avoid_the_class_name_reserved_members_and_each_others_accessors()
    {
        var names = MemberNames.Assign("Detector",
            [("x", true), ("X", true), ("x_shape", true), ("detector", true), ("run", true), ("dispose", false), ("x.length", false)]);

        Assert.Equal(["X", "X2", "XShape2", "Detector2", "Run2", "Dispose2", "XLength2"], names);
    }

    [Fact]
    public void Names_avoid_the_sample_length_of_batched_wrappers()
    {
        // X's XSampleLength is reserved even where no wrapper declares it, so names do not depend on MaxBatchSize.
        Assert.Equal(["X", "XSample2"], MemberNames.Assign("Model", [("x", true), ("x_sample", false)]));
    }
}
