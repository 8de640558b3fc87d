using Microsoft.CodeAnalysis;
using ModelCompression.Signatures;

namespace ModelCompression.Generators.Tests;

public class WrapperDiagnosticsTests
{
    private const string Path = "/project/obj/Models/model.mcsig";

    [Fact]
    public void Corrupt_sidecar_is_MC7001_with_the_path_and_the_format_error()
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Sidecar(Path, "this is not a sidecar\n"));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7001", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("ModelCompression", diagnostic.Descriptor.Category);
        var message = diagnostic.GetMessage();
        Assert.Contains(Path, message);
        Assert.Contains("line 1: expected 'modelcompression-signature<TAB>2'", message);
        Assert.Equal(Path, diagnostic.Location.GetLineSpan().Path);
        Assert.Empty(result.GeneratedSources);
    }

    [Theory]
    [InlineData(true, "input 'text' is a string tensor")]
    [InlineData(false, "output 'label' is a string tensor")]
    public void String_tensor_is_MC7011_saying_what_to_do_instead(bool stringInput, string expected)
    {
        var content = stringInput
            ? new SidecarContent("Tokenizer", "App", "tokenizer.onnx", [new("text", "string", [1])], [new("ids", "int64", [1, 16])])
            : new SidecarContent("Classifier", "App", "classifier.onnx", [new("x", "float", [1, 4])], [new("label", "string", [1])]);

        var result = GeneratorHarness.Run(GeneratorHarness.Sidecar(Path, SignatureSidecar.Write(content)));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7011", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        var message = diagnostic.GetMessage();
        Assert.Contains(Path, message);
        Assert.Contains(expected, message);
        Assert.Contains("feed token ids as int64", message);
        Assert.Contains("InferenceSession directly", message);
        Assert.Empty(result.GeneratedSources);
    }

    [Fact]
    public void Tensor_larger_than_an_array_is_MC7001()
    {
        var content = new SidecarContent("Huge", "App", "huge.onnx", [new("x", "float", [1, 100_000, 100_000])], [new("y", "float", [1])]);

        var result = GeneratorHarness.Run(GeneratorHarness.Sidecar(Path, SignatureSidecar.Write(content)));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7001", diagnostic.Id);
        Assert.Contains("input 'x' has shape [1,100000,100000], more elements than a .NET array holds", diagnostic.GetMessage());
    }

    [Theory]
    [InlineData("my-model", "ClassName", "the class name 'my-model'")]
    [InlineData("class", "ClassName", "the class name 'class'")]
    [InlineData("model", "ClassName", "only lower-case ASCII letters")]
    [InlineData("1stModel", "ClassName", "the class name '1stModel'")]
    public void Invalid_class_name_is_MC7002_saying_which_metadata_to_change(string className, string metadata, string expected)
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Sidecar(Path, Sidecar(className, "App")));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7002", diagnostic.Id);
        var message = diagnostic.GetMessage();
        Assert.Contains(Path, message);
        Assert.Contains(expected, message);
        Assert.Contains($"Set the {metadata} metadata", message);
        Assert.Empty(result.GeneratedSources);
    }

    [Theory]
    [InlineData("App.1x", "'1x' is not a valid identifier")]
    [InlineData("App..Models", "'' is not a valid identifier")]
    [InlineData("App.namespace", "'namespace' is not a valid identifier")]
    [InlineData("global.App", "starts with 'global'")]
    public void Invalid_namespace_is_MC7002_saying_which_metadata_to_change(string ns, string expected)
    {
        var result = GeneratorHarness.Run(GeneratorHarness.Sidecar(Path, Sidecar("Model", ns)));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7002", diagnostic.Id);
        Assert.Contains(expected, diagnostic.GetMessage());
        Assert.Contains("Set the Namespace metadata", diagnostic.GetMessage());
    }

    [Fact]
    public void Two_sidecars_generating_the_same_class_is_MC7003_and_the_first_still_generates()
    {
        var result = GeneratorHarness.Run(
            GeneratorHarness.Sidecar("/project/obj/a/model.mcsig", Sidecar("Model", "App")),
            GeneratorHarness.Sidecar("/project/obj/b/model.mcsig", Sidecar("Model", "App")));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7003", diagnostic.Id);
        Assert.Contains("/project/obj/b/model.mcsig", diagnostic.GetMessage());
        Assert.Contains("'/project/obj/a/model.mcsig' generates too", diagnostic.GetMessage());
        Assert.Equal("App.Model.g.cs", Assert.Single(GeneratorHarness.WrapperHintNames(result)));
    }

    [Fact]
    public void Classes_whose_names_differ_only_in_case_both_generate()
    {
        var result = GeneratorHarness.Run(
            GeneratorHarness.Sidecar("/project/obj/a.mcsig", Sidecar("Model", "App")),
            GeneratorHarness.Sidecar("/project/obj/b.mcsig", Sidecar("MODEL", "App")));

        Assert.Empty(result.Diagnostics);
        Assert.Equal(["App.Model.g.cs", "App.MODEL.2.g.cs"], GeneratorHarness.WrapperHintNames(result));
    }

    [Fact]
    public void A_bad_sidecar_does_not_stop_the_others_and_other_files_are_ignored()
    {
        var result = GeneratorHarness.Run(
            GeneratorHarness.Sidecar("/project/obj/bad.mcsig", ""),
            GeneratorHarness.Sidecar("/project/obj/good.MCSIG", Sidecar("Good", "App")),
            GeneratorHarness.Sidecar("/project/notes.txt", "modelcompression-signature\t1\n"));

        Assert.Equal("MC7001", Assert.Single(result.Diagnostics).Id);
        Assert.Equal("App.Good.g.cs", Assert.Single(GeneratorHarness.WrapperHintNames(result)));
    }

    [Theory]
    [InlineData("abc", "the MaxBatchSize metadata 'abc' is not a whole number of at least 1")]
    [InlineData("0", "the MaxBatchSize metadata '0' is not a whole number of at least 1")]
    [InlineData("-3", "the MaxBatchSize metadata '-3'")]
    [InlineData("1000000000", "more elements than a .NET array holds")]
    public void Invalid_MaxBatchSize_is_MC7010_naming_the_sidecar_the_metadata_and_the_fix(string value, string expected)
    {
        var message = SingleMetadataError(SidecarCases.FashionCnnBatched, ("ModelCompressionMaxBatchSize", value));

        Assert.Contains(expected, message);
        Assert.Contains("CompressedModel item", message);
    }

    [Fact]
    public void MaxBatchSize_on_a_model_without_a_free_batch_axis_is_MC7010()
    {
        var message = SingleMetadataError(SidecarCases.FashionCnn, ("ModelCompressionMaxBatchSize", "8"));

        Assert.Contains("no input of the model has a free batch axis (a free dimension 0): 'input' [1, 1, 28, 28]. Remove MaxBatchSize", message);
    }

    [Theory]
    [InlineData("Z=100", "the MaxSizes entry 'Z=100' names no free dimension of the model's inputs ('x' [N, 3, 48, W]); the named free dimensions are W, e.g. MaxSizes=\"W=1024\"")]
    [InlineData("W", "the MaxSizes entry 'W' is not 'name=size'")]
    [InlineData("W=0", "the MaxSizes entry 'W=0' is not 'name=size' with a whole size of at least 1")]
    [InlineData("W=wide", "the MaxSizes entry 'W=wide'")]
    [InlineData("W=960;W=640", "sets 'W' twice")]
    [InlineData("N=8", "names the batch axis 'N'; set MaxBatchSize instead")]
    public void Invalid_MaxSizes_is_MC7010_naming_the_free_dimensions(string value, string expected)
    {
        Assert.Contains(expected, SingleMetadataError(SidecarCases.TextRecognizer, ("ModelCompressionMaxSizes", value)));
    }

    [Fact]
    public void MaxSizes_larger_than_an_array_holds_are_MC7010_naming_the_input_and_its_element_count()
    {
        var message = SingleMetadataError(SidecarCases.TextRecognizer, ("ModelCompressionMaxSizes", "W=4000000000"));

        Assert.Contains("the MaxSizes metadata makes input 'x' up to [1, 3, 48, 4000000000], 576000000000 elements, more than a .NET array holds (2147483591). " +
            "Set smaller MaxSizes on the CompressedModel item.", message);
    }

    [Fact]
    public void MaxSizes_that_fit_one_sample_but_not_MaxBatchSize_samples_are_MC7010()
    {
        var message = SingleMetadataError(SidecarCases.Detector, ("ModelCompressionMaxBatchSize", "4"), ("ModelCompressionMaxSizes", "H=20000; W=20000"));

        Assert.Contains("input 'image' up to [4, 3, 20000, 20000], 4800000000 elements", message);
        Assert.Contains("Set smaller MaxSizes (or a smaller MaxBatchSize) on the CompressedModel item.", message);
    }

    [Fact]
    public void MaxSizes_whose_largest_inputs_fit_in_arrays_generate_the_wrapper()
    {
        // 3 * 20000 * 20000 elements: the limit above is the batch's, not the sizes'.
        var result = GeneratorHarness.Run(SidecarCases.Text(SidecarCases.Detector,
            ("ModelCompressionMaxBatchSize", "1"), ("ModelCompressionMaxSizes", "H=20000; W=20000")));

        Assert.Empty(result.Diagnostics);
        Assert.Contains("ElementCount(new long[] { MaxBatchSize, 3, 20000, 20000 })", GeneratorHarness.SingleSource(result));
    }

    [Fact]
    public void Empty_metadata_means_not_set()
    {
        var result = GeneratorHarness.Run(SidecarCases.Text(SidecarCases.TextRecognizer,
            ("ModelCompressionMaxBatchSize", ""), ("ModelCompressionMaxSizes", " "), ("ModelCompressionEmbeddedResource", "")));

        Assert.DoesNotContain("MaxBatchSize", GeneratorHarness.SingleSource(result));
    }

    // The one diagnostic of invalid wrapper metadata: an MC7010 error naming the sidecar, and no wrapper.
    private static string SingleMetadataError(SidecarContent content, params (string Name, string Value)[] metadata)
    {
        var result = GeneratorHarness.Run(SidecarCases.Text(content, metadata));

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7010", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Contains(SidecarCases.PathOf(content), diagnostic.GetMessage());
        Assert.Empty(result.GeneratedSources);
        return diagnostic.GetMessage();
    }

    private static string Sidecar(string className, string ns) =>
        SignatureSidecar.Write(new SidecarContent(className, ns, "model.onnx", [new("x", "float", [1])], [new("y", "float", [1])]));
}
