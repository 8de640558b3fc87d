using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests;

/// <summary>Snapshots of the files generated beside the wrapper class: the pool and the class-score helpers.</summary>
public class HelperSnapshotTests
{
    [Fact]
    public void Pool_of_fashion_cnn()
    {
        var result = GeneratorHarness.Run(SidecarCases.Text(SidecarCases.FashionCnn));

        Snapshot.Match(GeneratorHarness.Source(result, ".Pool.g.cs"));
    }

    [Fact]
    public void Class_score_helpers_with_labels_for_float_half_and_double_outputs()
    {
        var sidecar = SidecarCases.Text(SidecarCases.Classifier);
        var labels = GeneratorHarness.Sidecar("/project/labels.txt", "T-shirt/top\nTrouser\n\"Quoted\" \\ name\n");
        var metadata = new AdditionalFileMetadata().Set(labels.Path, "ModelCompressionLabelsFor", sidecar.Path);

        var result = GeneratorHarness.Run(metadata, sidecar, labels);

        Snapshot.Match(GeneratorHarness.Source(result, ".ClassScores.g.cs"));
    }

    [Fact]
    public void A_model_without_class_score_outputs_gets_no_helper_file()
    {
        var content = new SidecarContent("Regressor", "App", "r.onnx",
            [new("x", "float", [1, 4])],
            [new("y", "float", [1, 1]), new("ids", "int64", [1, 5]), new("volume", "float", [1, 2, 3])]);

        var result = GeneratorHarness.Run(GeneratorHarness.Sidecar("/project/r.mcsig", SignatureSidecar.Write(content)));

        Assert.Equal(["App.Regressor.g.cs", "App.Regressor.Pool.g.cs"], GeneratorHarness.Sources(result).Select(s => s.HintName));
    }
}
