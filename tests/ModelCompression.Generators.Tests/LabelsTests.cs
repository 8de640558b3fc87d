extern alias Generators;

using Generators::ModelCompression.Generators;
using Microsoft.CodeAnalysis;
using ModelCompression.Signatures;

namespace ModelCompression.Generators.Tests;

/// <summary>The Labels file: how it is read, joined to its wrapper, and the diagnostics when it does not fit.</summary>
public class LabelsTests
{
    private const string SidecarPath = "/project/obj/FashionCnn.mcsig";
    private const string LabelsPath = "/project/Models/labels.txt";

    [Fact]
    public void Lines_are_labels_with_CRLF_or_LF_and_trailing_empty_lines_ignored()
    {
        Assert.Equal(["a", "", " b c "], LabelsParser.Lines("a\r\n\r\n b c \n\n  \r\n"));
        Assert.Equal(["only"], LabelsParser.Lines("only"));
        Assert.Empty(LabelsParser.Lines(""));
    }

    [Fact]
    public void Labels_join_the_wrapper_whose_sidecar_path_the_metadata_names()
    {
        var result = Run(SidecarCases.FashionCnn, Enumerable.Range(0, 10).Select(i => $"class {i}"));

        var helpers = GeneratorHarness.Source(result, ".ClassScores.g.cs");
        Assert.Contains("\"class 9\",", helpers);
        Assert.Contains("public string LogitsArgMaxLabel(int sample = 0) => Labels[LogitsArgMax(sample)];", helpers);
    }

    [Fact]
    public void Labels_for_another_sidecar_are_not_used()
    {
        var sidecar = GeneratorHarness.Sidecar(SidecarPath, SignatureSidecar.Write(SidecarCases.FashionCnn));
        var labels = GeneratorHarness.Sidecar(LabelsPath, "a\nb\n");
        var metadata = new AdditionalFileMetadata().Set(LabelsPath, "ModelCompressionLabelsFor", "/project/obj/Other.mcsig");

        var helpers = GeneratorHarness.Source(GeneratorHarness.Run(metadata, sidecar, labels), ".ClassScores.g.cs");

        Assert.DoesNotContain("Labels", helpers);
        Assert.Contains("public int LogitsArgMax(int sample = 0)", helpers);
    }

    [Fact]
    public void A_label_count_no_output_has_is_MC7012_and_the_wrapper_still_generates_without_labels()
    {
        var result = Run(SidecarCases.FashionCnn, ["T-shirt/top", "Trouser", "Pullover"]);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7012", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Descriptor.DefaultSeverity);
        Assert.Equal(LabelsPath, diagnostic.Location.GetLineSpan().Path);
        var message = diagnostic.GetMessage();
        Assert.Contains($"Labels file '{LabelsPath}': it holds 3 labels", message);
        Assert.Contains("'FashionClassifier.FashionCnn' have other class counts (logits: 10)", message);
        Assert.Contains("one line per class", message);
        Assert.DoesNotContain("Labels", result.GeneratedSources.Single(s => s.HintName.EndsWith(".ClassScores.g.cs", StringComparison.Ordinal)).SourceText.ToString());
    }

    [Fact]
    public void Labels_for_a_model_without_class_scores_is_the_warning_MC7013()
    {
        var content = new SidecarContent("FashionCnn", "FashionClassifier", "m.onnx", [new("x", "float", [1, 4])], [new("y", "float", [1, 4, 4])]);

        var result = Run(content, ["a", "b"]);

        var diagnostic = Assert.Single(result.Diagnostics);
        Assert.Equal("MC7013", diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Warning, diagnostic.Descriptor.DefaultSeverity); // the harness makes warnings errors
        Assert.Contains("has no class-score output (shape [N, C] of float, double or float16, C ≥ 2)", diagnostic.GetMessage());
        Assert.Contains("Remove the Labels metadata", diagnostic.GetMessage());
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName.EndsWith(".ClassScores.g.cs", StringComparison.Ordinal));
    }

    [Fact]
    public void An_output_named_labels_does_not_take_the_Labels_name()
    {
        var content = new SidecarContent("Detector", "App", "d.onnx", [new("x", "float", [1, 4])], [new("labels", "int64", [1, 5])]);

        var source = GeneratorHarness.SingleSource(GeneratorHarness.Run(GeneratorHarness.Sidecar(SidecarPath, SignatureSidecar.Write(content))));

        Assert.Contains("public global::System.ReadOnlySpan<long> Labels2 =>", source);
    }

    private static GeneratorRunResult Run(SidecarContent content, IEnumerable<string> labels)
    {
        var sidecar = GeneratorHarness.Sidecar(SidecarPath, SignatureSidecar.Write(content));
        var labelsFile = GeneratorHarness.Sidecar(LabelsPath, string.Join("\n", labels) + "\n");
        var metadata = new AdditionalFileMetadata().Set(LabelsPath, "ModelCompressionLabelsFor", SidecarPath);
        return GeneratorHarness.Run(metadata, sidecar, labelsFile);
    }
}
