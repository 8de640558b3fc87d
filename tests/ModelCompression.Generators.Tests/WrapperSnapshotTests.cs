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

    [Fact]
    public void Free_dimensions_are_set_with_SetInputSizes_and_output_shapes_come_from_ONNX_Runtime() =>
        Verify(SidecarCases.Text(nameof(SidecarCases.TextRecognizer)));

    [Fact]
    public void MaxBatchSize_gives_Run_of_batchSize_over_buffers_for_that_many_samples() =>
        Verify(SidecarCases.Text(nameof(SidecarCases.FashionCnnBatched)));

    [Fact]
    public void MaxSizes_allocate_inputs_at_their_largest_shape_and_bound_SetInputSizes() =>
        Verify(SidecarCases.Text(nameof(SidecarCases.Detector)));

    [Fact]
    public void Embedded_model_is_loaded_from_the_manifest_resource_by_the_constructors_without_a_path() =>
        Verify(SidecarCases.Text(SidecarCases.EmbeddedFashionCnn));

    [Fact]
    public void Version_1_sidecar_without_declared_shapes_generates_the_fixed_shape_class()
    {
        var version1 = "modelcompression-signature\t1\nclass\tFashionCnn\nnamespace\tFashionClassifier\nmodel\tModels/fashion-cnn.onnx\n" +
                       "input\tinput\tfloat\t1,1,28,28\noutput\tlogits\tfloat\t1,10\n";

        var fromVersion1 = GeneratorHarness.SingleSource(GeneratorHarness.Run(GeneratorHarness.Sidecar(SidecarCases.PathOf(SidecarCases.FashionCnn), version1)));

        Assert.Equal(GeneratorHarness.SingleSource(GeneratorHarness.Run(SidecarCases.Text(SidecarCases.FashionCnn))), fromVersion1);
    }

    private static void Verify(SidecarContent content,
        [System.Runtime.CompilerServices.CallerMemberName] string testMethod = "") =>
        Verify(SidecarCases.Text(content), testMethod);

    private static void Verify(Microsoft.CodeAnalysis.AdditionalText sidecar, [System.Runtime.CompilerServices.CallerMemberName] string testMethod = "")
    {
        var result = GeneratorHarness.Run(sidecar);
        Snapshot.Match(GeneratorHarness.SingleSource(result), testMethod: testMethod);
    }
}
