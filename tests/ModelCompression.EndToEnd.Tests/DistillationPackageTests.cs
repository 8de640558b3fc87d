using System.Text.Json;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// ModelCompression.Build.Distillation as a user gets it: libtorch is restored only with it, reaches the worker through
/// the props' paths, and never reaches the app.
/// </summary>
public sealed class DistillationPackageTests(PackedPackage package)
{
    private static readonly string[] TorchPackages = ["TorchSharp", "libtorch-cpu-linux-x64"];

    [Fact]
    public void A_consumer_of_ModelCompression_Build_alone_restores_no_libtorch_and_is_told_what_distill_needs()
    {
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        // Both mistakes at once: distill without its package (a warning), and training on the validation data (an error).
        app.WriteProject(ConsumerProject.DigitsItem.Replace("/>",
            "Techniques=\"fusion;distill\" TrainingData=\"Models/digits-mlp.validation.npz\" />", StringComparison.Ordinal));

        var build = app.Build().AssertFailed();

        Assert.Equal(["MC2009"], build.Errors.Select(e => e.Code));
        Assert.Contains("never trains on the samples that judge it", build.Errors[0].Message, StringComparison.Ordinal);
        var warning = Assert.Single(build.Warnings, w => w.Code == "MC3101");
        Assert.Contains("<PackageReference Include=\"ModelCompression.Build.Distillation\"", warning.Message, StringComparison.Ordinal);
        Assert.EndsWith("digits-mlp.onnx", warning.File, StringComparison.Ordinal);
        var libraries = Libraries(app);
        Assert.Contains(libraries, l => l.StartsWith(PackedPackage.Id + "/", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(libraries, l => l.Contains("torch", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void A_consumer_of_both_restores_libtorch_for_the_worker_and_none_of_it_reaches_the_app()
    {
        package.PackDistillation();
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject(ConsumerProject.DigitsItem.Replace("/>", "Techniques=\"fusion\" />", StringComparison.Ordinal), distillation: true);

        var build = app.Build().AssertSucceeded();

        // Restored, in the graph, with no asset for the app: NuGet lists each excluded kind of asset as the placeholder "_._".
        using var assets = JsonDocument.Parse(File.ReadAllText(app.AssetsFile));
        var libraries = Libraries(assets);
        Assert.Contains("libtorch-cpu-linux-x64/2.10.0", libraries);
        Assert.Contains("TorchSharp/0.107.0", libraries);
        var target = assets.RootElement.GetProperty("targets").EnumerateObject().Single().Value;
        var fromTorch = target.EnumerateObject()
            .Where(p => TorchPackages.Any(id => p.Name.StartsWith(id + "/", StringComparison.Ordinal))
                        || p.Name.StartsWith("SkiaSharp", StringComparison.Ordinal) || p.Name.StartsWith("SharpZipLib/", StringComparison.Ordinal))
            .ToList();
        Assert.True(fromTorch.Count >= 3, string.Join(", ", fromTorch.Select(p => p.Name)));
        foreach (var package in fromTorch)
        {
            var assetFiles = package.Value.EnumerateObject().Where(p => p.Name is not ("type" or "dependencies"))
                .SelectMany(kind => kind.Value.EnumerateObject().Select(file => $"{kind.Name}: {file.Name}")).ToList();
            Assert.True(assetFiles.TrueForAll(a => a.EndsWith("/_._", StringComparison.Ordinal)), $"{package.Name} gives the app: {string.Join(", ", assetFiles)}");
        }

        // Nothing of TorchSharp, libtorch or their dependencies in the app's output.
        var shipped = Directory.EnumerateFiles(app.OutputDirectory, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToList();
        Assert.Contains(ConsumerProject.Name + ".dll", shipped);
        Assert.DoesNotContain(shipped, n => n!.Contains("torch", StringComparison.OrdinalIgnoreCase) || n.StartsWith("libc10", StringComparison.Ordinal)
            || n.Contains("Skia", StringComparison.Ordinal) || n.Contains("SharpZipLib", StringComparison.Ordinal) || n.Contains("Distillation", StringComparison.Ordinal));

        // The props' paths exist, and the task passed them to the worker.
        var properties = Properties(app, "ModelCompressionDistillationPlugin", "ModelCompressionTorchNativeDirectories", "ModelCompressionWorkerPath", "NuGetPackageRoot");
        var plugin = properties["ModelCompressionDistillationPlugin"];
        var natives = properties["ModelCompressionTorchNativeDirectories"].Split(';', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(File.Exists(plugin), plugin);
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(plugin)!, "TorchSharp.dll")), plugin);
        Assert.Equal(2, natives.Length);
        Assert.True(File.Exists(Path.Combine(natives[0], "libLibTorchSharp.so")), natives[0]);
        Assert.True(File.Exists(Path.Combine(natives[1], "libtorch_cpu.so")), natives[1]);
        Assert.Contains($"--distillation-plugin {plugin}", build.Output, StringComparison.Ordinal);
        Assert.Contains("--torch-native-directories ", build.Output, StringComparison.Ordinal);

        // The worker of the restored package loads the plugin from them and runs a tensor operation through libtorch.
        var check = DotNet.Run(app.ProjectDirectory, "exec", "--additionalprobingpath", properties["NuGetPackageRoot"].TrimEnd('/'),
            properties["ModelCompressionWorkerPath"], "distillation-check",
            "--distillation-plugin", plugin, "--torch-native-directories", properties["ModelCompressionTorchNativeDirectories"]);
        Assert.True(check.Succeeded, check.ToString());
        Assert.Contains("times its transpose is [5, 14, 14, 50]", check.Output, StringComparison.Ordinal);
        Assert.Contains("bound by the plugin's load context: ", check.Output, StringComparison.Ordinal);
        Assert.Contains("LibTorchSharp", check.Output.Split('\n').Single(l => l.StartsWith("bound by", StringComparison.Ordinal)), StringComparison.Ordinal);
    }

    private static List<string> Libraries(ConsumerProject app)
    {
        using var assets = JsonDocument.Parse(File.ReadAllText(app.AssetsFile));
        return Libraries(assets);
    }

    private static List<string> Libraries(JsonDocument assets) =>
        assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToList();

    /// <summary>The project's evaluated properties (after restore, so NuGet's props are imported).</summary>
    private static Dictionary<string, string> Properties(ConsumerProject app, params string[] names)
    {
        var result = DotNet.Run(app.ProjectDirectory, ["msbuild", app.ProjectFile, "-nologo", .. names.Select(n => "-getProperty:" + n)]);
        Assert.True(result.Succeeded, result.ToString());
        var json = result.Output[result.Output.IndexOf('{', StringComparison.Ordinal)..(result.Output.LastIndexOf('}') + 1)];
        using var document = JsonDocument.Parse(json);
        return document.RootElement.GetProperty("Properties").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
    }
}
