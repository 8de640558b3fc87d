extern alias Generators;

using Generators::ModelCompression.Generators;
using Microsoft.CodeAnalysis;
using ModelCompression.Signatures;

namespace ModelCompression.Generators.Tests;

public class IncrementalityTests
{
    private static readonly AdditionalText Unrelated = GeneratorHarness.Sidecar("/project/appsettings.json", "{}");

    [Fact]
    public void Rerunning_with_nothing_changed_is_served_from_the_cache()
    {
        var driver = Initialised(SidecarCases.Text(SidecarCases.FashionCnn), Unrelated);

        var result = driver.RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Equal([IncrementalStepRunReason.Cached], Reasons(result, WrapperGenerator.Steps.Parse));
        Assert.Equal([IncrementalStepRunReason.Cached], Reasons(result, WrapperGenerator.Steps.Collect));
        Assert.Equal([IncrementalStepRunReason.Cached], OutputReasons(result));
    }

    [Fact]
    public void A_new_text_with_the_same_content_parses_to_an_equal_model_and_does_not_regenerate()
    {
        var sidecar = SidecarCases.Text(SidecarCases.FashionCnn);
        var driver = Initialised(sidecar, Unrelated)
            .ReplaceAdditionalText(sidecar, SidecarCases.Text(SidecarCases.FashionCnn));

        var result = driver.RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Equal([IncrementalStepRunReason.Unchanged], Reasons(result, WrapperGenerator.Steps.Parse));
        Assert.Equal([IncrementalStepRunReason.Cached], OutputReasons(result));
    }

    [Fact]
    public void Changing_an_unrelated_additional_file_does_not_regenerate()
    {
        var driver = Initialised(SidecarCases.Text(SidecarCases.FashionCnn), Unrelated)
            .ReplaceAdditionalText(Unrelated, GeneratorHarness.Sidecar(Unrelated.Path, "{ \"changed\": true }"));

        var result = driver.RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Equal([IncrementalStepRunReason.Cached], Reasons(result, WrapperGenerator.Steps.Parse));
        Assert.Equal([IncrementalStepRunReason.Cached], OutputReasons(result));
    }

    [Fact]
    public void Changing_the_sidecar_regenerates()
    {
        var sidecar = SidecarCases.Text(SidecarCases.FashionCnn);
        var changed = new SidecarContent("FashionCnn", "FashionClassifier", "Models/fashion-cnn.onnx",
            [new("input", "float", [1, 1, 32, 32])], [new("logits", "float", [1, 10])]);
        var driver = Initialised(sidecar, Unrelated)
            .ReplaceAdditionalText(sidecar, GeneratorHarness.Sidecar(sidecar.Path, SignatureSidecar.Write(changed)));

        var result = driver.RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Equal([IncrementalStepRunReason.Modified], Reasons(result, WrapperGenerator.Steps.Parse));
        Assert.Equal([IncrementalStepRunReason.Modified], OutputReasons(result));
        Assert.Contains("public const int InputLength = 1024;", GeneratorHarness.SingleSource(result));
    }

    [Fact]
    public void Changing_the_labels_file_regenerates_and_an_unchanged_one_does_not()
    {
        var sidecar = SidecarCases.Text(SidecarCases.FashionCnn);
        var labels = GeneratorHarness.Sidecar("/project/labels.txt", string.Join("\n", Enumerable.Range(0, 10)));
        var metadata = new AdditionalFileMetadata().Set(labels.Path, "ModelCompressionLabelsFor", sidecar.Path);
        var driver = GeneratorHarness.Driver(metadata, sidecar, labels, Unrelated).RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken);

        var unchanged = driver.ReplaceAdditionalText(labels, GeneratorHarness.Sidecar(labels.Path, labels.GetText(TestContext.Current.CancellationToken)!.ToString()))
            .RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();
        var changed = driver.ReplaceAdditionalText(labels, GeneratorHarness.Sidecar(labels.Path, string.Join("\n", Enumerable.Range(10, 10))))
            .RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Equal([IncrementalStepRunReason.Cached], Reasons(unchanged, WrapperGenerator.Steps.Labels)); // re-read, parsed equal, stopped there
        Assert.Equal([IncrementalStepRunReason.Cached], OutputReasons(unchanged));
        Assert.Equal([IncrementalStepRunReason.Modified], OutputReasons(changed));
        Assert.Contains("\"19\",", GeneratorHarness.Source(changed, ".ClassScores.g.cs"));
    }

    [Fact]
    public void Changing_the_item_metadata_regenerates()
    {
        var sidecar = SidecarCases.Text(SidecarCases.FashionCnnBatched);
        var driver = Initialised(sidecar, Unrelated)
            .ReplaceAdditionalText(sidecar, SidecarCases.Text(SidecarCases.FashionCnnBatched, ("ModelCompressionMaxBatchSize", "8")));

        var result = driver.RunGenerators(GeneratorHarness.Compilation(), TestContext.Current.CancellationToken).GetRunResult().Results.Single();

        Assert.Equal([IncrementalStepRunReason.Modified], Reasons(result, WrapperGenerator.Steps.Parse));
        Assert.Contains("public const int MaxBatchSize = 8;", GeneratorHarness.SingleSource(result));
    }

    private static GeneratorDriver Initialised(params AdditionalText[] texts) =>
        GeneratorHarness.Driver(texts).RunGenerators(GeneratorHarness.Compilation());

    private static IncrementalStepRunReason[] Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();

    private static IncrementalStepRunReason[] OutputReasons(GeneratorRunResult result) =>
        result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();
}
