using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// <c>Embed="true"</c> and a single-file publish: the app is one file, with the compressed model and ONNX Runtime's
/// native library inside, and predicts what the same app with the model beside it does.
/// </summary>
public sealed class SingleFilePublishTests(PackedPackage package)
{
    private const string Model = "Models/digits-mlp.onnx";
    private const string Runtime = "linux-x64";
    // Release, as publish defaults to; both commands share one RID, so one obj folder and one compression.
    private const string Configuration = "Release";

    /// <summary>Classifies fixed inputs (no data file to carry along) and prints each class and its score, exactly.</summary>
    private const string PredictingProgram = """
        using System.Globalization;
        using var model = new ConsumerApp.DigitsMlp();
        for (var sample = 0; sample < 20; sample++)
        {
            var input = model.Input;
            for (var i = 0; i < input.Length; i++) input[i] = (sample * 7 + i * 13) % 17 / 16f;
            model.Run();
            var scores = model.Logits;
            var best = 0;
            for (var c = 1; c < scores.Length; c++) if (scores[c] > scores[best]) best = c;
            System.Console.WriteLine($"sample {sample}: class {best}, score {scores[best].ToString("R", CultureInfo.InvariantCulture)}");
        }
        """;

    [Fact]
    public void EmbeddedModel_PublishedAsOneFile_RunsAlone_AndPredictsAsTheUnembeddedBuild()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitOperatingSystem) Assert.Skip($"publishes for {Runtime}");
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        File.WriteAllText(app.PathOf("Program.cs"), PredictingProgram);
        app.WriteProject();

        app.Build("-r", Runtime, "-c", Configuration).AssertSucceeded();
        var output = app.PathOf("bin", Configuration, ConsumerProject.TargetFramework, Runtime);
        Assert.True(File.Exists(Path.Combine(output, "Models", "digits-mlp.onnx")));
        var unembedded = DotNet.Run(app.ProjectDirectory, "exec", Path.Combine(output, ConsumerProject.Name + ".dll"));
        Assert.True(unembedded.Succeeded, unembedded.ToString());
        Assert.Contains("sample 19: class ", unembedded.Output);

        app.WriteProject(ConsumerProject.DigitsItem.Replace("/>", "Embed=\"true\" />", StringComparison.Ordinal));
        var published = app.PathOf("published");
        var publish = app.Dotnet("publish", app.ProjectFile, "-r", Runtime, "-c", Configuration, "--self-contained",
            "-p:PublishSingleFile=true", "-o", published).AssertSucceeded();

        Assert.False(publish.Compressed(Model), "Embed is not a compression setting: " + publish);
        Assert.Empty(Directory.EnumerateFiles(published, "*.onnx", SearchOption.AllDirectories));
        Assert.Empty(Directory.EnumerateFiles(published, "*.so", SearchOption.AllDirectories)); // ONNX Runtime's is inside
        using var alone = new TempDirectory("mc single file");
        var executable = Path.Combine(alone.Path, ConsumerProject.Name);
        File.Copy(Path.Combine(published, ConsumerProject.Name), executable); // with its execute permission
        Assert.Equal([executable], Directory.GetFiles(alone.Path));
        // Where the bundle extracts ONNX Runtime's native library: a folder of this test's, not the user's ~/.net.
        using var extracted = new TempDirectory("mc single file extracted");
        var run = DotNet.RunProgram(executable, alone.Path, new Dictionary<string, string> { ["DOTNET_BUNDLE_EXTRACT_BASE_DIR"] = extracted.Path },
            DotNet.DefaultTimeout);

        Assert.True(run.Succeeded, run.ToString());
        Assert.Equal(unembedded.Output, run.Output);
    }
}
