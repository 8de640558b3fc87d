using ModelCompression.Core.Data;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// What a user gets from the package with the real digits-mlp model: a smaller model whose generated
/// wrapper reproduces the reported accuracy, and failing builds for unmet budgets and bad inputs.
/// </summary>
public sealed class CompressionAcceptanceTests(PackedPackage package)
{
    private const string Model = "Models/digits-mlp.onnx";

    /// <summary>An app that classifies every validation sample with the generated wrapper and prints how many it got right.</summary>
    private const string ClassifyingProgram = """
        using System;
        var data = FashionClassifier.Npz.Read(args[0]);
        var inputs = (float[])data["input"];
        var labels = (long[])data["labels"];
        using var model = new ConsumerApp.DigitsMlp();
        var correct = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            inputs.AsSpan(i * ConsumerApp.DigitsMlp.InputLength, ConsumerApp.DigitsMlp.InputLength).CopyTo(model.Input);
            model.Run();
            var scores = model.Logits;
            var best = 0;
            for (var c = 1; c < scores.Length; c++) if (scores[c] > scores[best]) best = c;
            if (best == labels[i]) correct++;
        }
        System.Console.WriteLine($"correct={correct} total={labels.Length}");
        """;

    [Fact]
    public void The_compressed_model_is_at_least_3x_smaller_and_the_wrapper_reproduces_the_reported_accuracy()
    {
        using var app = NewApp();
        File.WriteAllText(app.PathOf("Program.cs"), ClassifyingProgram);
        // The sample's minimal .npz reader: the consumer knows nothing of this repository's code.
        File.Copy(RepositoryPaths.Combine("samples", "FashionClassifier", "Npz.cs"), app.PathOf("Npz.cs"));
        app.WriteProject();

        app.Build().AssertSucceeded();

        var original = new FileInfo(app.PathOf("Models", "digits-mlp.onnx")).Length;
        var shipped = new FileInfo(Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx")).Length;
        Assert.True(original >= 3 * shipped, $"{original} B → {shipped} B is less than 3× smaller");

        var report = ReadReport(app);
        Assert.Equal(shipped, report.Chosen!.SizeBytes);
        var run = DotNet.Run(app.ProjectDirectory, "exec", Path.Combine(app.OutputDirectory, ConsumerProject.Name + ".dll"),
            app.PathOf("Models", "digits-mlp.validation.npz"));
        Assert.True(run.Succeeded, run.ToString());
        var expectedCorrect = (int)Math.Round(report.Chosen.ValidationScore!.Value * report.ValidationSamples);
        Assert.Contains($"correct={expectedCorrect} total={report.ValidationSamples}", run.Output);
    }

    [Fact]
    public void A_size_budget_no_candidate_meets_fails_the_build_with_MC4002_stating_measured_and_allowed()
    {
        using var app = NewApp();
        app.WriteProject(ConsumerProject.DigitsItem.Replace("MaxAccuracyDrop=\"1%\"", "MaxAccuracyDrop=\"1%\" MaxSize=\"1KB\""));

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC4002", error.Code);
        Assert.Equal(app.PathOf("Models", "digits-mlp.onnx"), error.File);
        Assert.Matches(@"is [0-9.]+ KB \([0-9]+ bytes\) where MaxSize allows 1 KB \(1024 bytes\)", error.Message);
        AssertNoStackTraceAndNoModel(app, build);
        // The report and the closest candidate are still there to look at.
        var report = ReadReport(app);
        Assert.Null(report.Chosen);
        Assert.Equal(error.Message, report.Failure);
        Assert.True(File.Exists(Path.Combine(ReportDirectory(app), "digits-mlp.best-candidate.onnx")));
    }

    [Fact]
    public void A_missing_data_file_fails_with_MC2001()
    {
        using var app = NewApp();
        app.WriteProject(ConsumerProject.DigitsItem.Replace("digits-mlp.validation.npz", "missing.npz"));

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC2001", error.Code);
        Assert.Contains("missing.npz", error.Message);
        Assert.Contains("ValidationData", error.Message);
        AssertNoStackTraceAndNoModel(app, build);
    }

    [Fact]
    public void Data_whose_array_names_do_not_match_the_model_fails_with_MC2003()
    {
        using var app = NewApp();
        var data = app.PathOf("Models", "digits-mlp.validation.npz");
        NdArray input, labels;
        using (var archive = NpzArchive.Open(data, DataSetting.ValidationData))
            (input, labels) = (archive.Read("input"), archive.Read("labels"));
        NpzArchive.Write(data, [new("pixels", input), new("labels", labels)]);
        app.WriteProject();

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC2003", error.Code);
        Assert.Contains("'input'", error.Message);
        Assert.Contains("'pixels'", error.Message);
        AssertNoStackTraceAndNoModel(app, build);
    }

    [Fact]
    public void Data_whose_shapes_do_not_match_the_model_fails_with_MC2004()
    {
        using var app = NewApp();
        NpzArchive.Write(app.PathOf("Models", "digits-mlp.validation.npz"),
            [new("input", NdArray.Create<float>([5, 8, 8], new float[5 * 64]))]);
        app.WriteProject();

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC2004", error.Code);
        Assert.Contains("'input'", error.Message);
        AssertNoStackTraceAndNoModel(app, build);
    }

    private ConsumerProject NewApp()
    {
        var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject();
        return app;
    }

    private static string ReportDirectory(ConsumerProject app) => app.CompressionOutput(Model) + ".report";

    private static CompressionReport ReadReport(ConsumerProject app) =>
        ReportWriter.FromJson(File.ReadAllText(Path.Combine(ReportDirectory(app), "digits-mlp.report.json")));

    private static void AssertNoStackTraceAndNoModel(ConsumerProject app, BuildResult build)
    {
        Assert.DoesNotContain("   at ", build.Output);
        Assert.DoesNotContain("Unhandled exception", build.Output);
        Assert.False(File.Exists(app.CompressionOutput(Model)));
        Assert.False(File.Exists(Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx")));
    }
}
