using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests;

public class WrapperSnapshotTests
{
    [Fact]
    public void Fashion_cnn_one_float_input_one_float_output() => Verify(SidecarCases.FashionCnn);

    [Fact]
    public void Mixed_element_types_scalar_and_silero_names() => Verify(SidecarCases.MixedTypes);

    [Fact]
    public void Awkward_names_are_sanitised_deduplicated_and_escaped() => Verify(SidecarCases.AwkwardNames);

    [Fact]
    public void Empty_namespace_generates_into_the_global_namespace() => Verify(SidecarCases.GlobalNamespace);

    private static void Verify(SidecarContent content,
        [System.Runtime.CompilerServices.CallerMemberName] string testMethod = "")
    {
        var result = GeneratorHarness.Run(SidecarCases.Text(content));
        Snapshot.Match(GeneratorHarness.SingleSource(result), testMethod: testMethod);
    }
}
