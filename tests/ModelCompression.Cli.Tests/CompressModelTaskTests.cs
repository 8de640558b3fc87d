using System.Reflection;
using Microsoft.Build.Utilities;
using ModelCompression.Build.Tasks;
using ModelCompression.Testing;

namespace ModelCompression.Cli.Tests;

/// <summary>What the MSBuild task tells the worker about distillation (its command line; nothing is launched).</summary>
public sealed class CompressModelTaskTests
{
    [Fact]
    public void The_plugin_its_native_directories_and_the_training_data_are_passed_when_set()
    {
        var task = Task(training: "/p/Models/train.npz", plugin: "/nuget/modelcompression.build.distillation/1.0.0/tools/net10.0/ModelCompression.Distillation.dll",
            natives: "/nuget/torchsharp/0.107.0/runtimes/linux-x64/native/;/nuget/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native/");

        var commandLine = CommandLineOf(task);

        Assert.Contains("--training-data /p/Models/train.npz", commandLine, StringComparison.Ordinal);
        Assert.Contains("--distillation-plugin /nuget/modelcompression.build.distillation/1.0.0/tools/net10.0/ModelCompression.Distillation.dll", commandLine, StringComparison.Ordinal);
        // One argument (quoted for its ';'), without the props' trailing separators.
        Assert.True(commandLine.Contains("--torch-native-directories \"/nuget/torchsharp/0.107.0/runtimes/linux-x64/native;/nuget/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native\" ", StringComparison.Ordinal), commandLine);
    }

    [Fact]
    public void Without_the_distillation_package_and_TrainingData_none_of_it_is_passed()
    {
        var commandLine = CommandLineOf(Task(training: "", plugin: "", natives: ""));

        Assert.DoesNotContain("--training-data", commandLine, StringComparison.Ordinal);
        Assert.DoesNotContain("--distillation-plugin", commandLine, StringComparison.Ordinal);
        Assert.DoesNotContain("--torch-native-directories", commandLine, StringComparison.Ordinal);
    }

    [Fact]
    public void A_signature_only_run_never_gets_the_plugin()
    {
        var task = Task(training: "/p/train.npz", plugin: "/x/ModelCompression.Distillation.dll", natives: "/n");
        task.SignatureOnly = true;

        var commandLine = CommandLineOf(task);

        Assert.DoesNotContain("--distillation-plugin", commandLine, StringComparison.Ordinal);
        Assert.DoesNotContain("--training-data", commandLine, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolving_an_item_gives_the_full_path_of_TrainingData_and_puts_it_in_the_settings_stamp()
    {
        var model = new TaskItem("Models/m.onnx");
        model.SetMetadata("ValidationData", "Models/m.validation.npz");
        model.SetMetadata("TrainingData", "Models\\m.train.npz");
        var resolve = new ResolveCompressedModels { Models = [model], ProjectDirectory = "/p", OutputDirectory = "obj/ModelCompression", BuildEngine = new NullEngine() };

        Assert.True(resolve.Execute());

        var resolved = Assert.Single(resolve.ResolvedModels);
        Assert.Equal(Path.GetFullPath("/p/Models/m.train.npz"), resolved.GetMetadata("TrainingDataFullPath"));
        Assert.Contains("|training=" + Path.GetFullPath("/p/Models/m.train.npz") + "|", resolved.GetMetadata("Settings"), StringComparison.Ordinal);
    }

    /// <summary>The wrapper's metadata, with the names the generator reads; none of it is a compression setting.</summary>
    [Fact]
    public void Resolving_an_item_gives_the_wrappers_metadata_and_keeps_it_out_of_the_settings_stamp()
    {
        using var project = new TempDirectory("mc resolve");
        File.WriteAllText(project.Combine("labels.txt"), "cat\ndog\n");
        var model = new TaskItem("Models/m.onnx");
        model.SetMetadata("Namespace", "App.Models");
        model.SetMetadata("MaxBatchSize", " 8 ");
        model.SetMetadata("MaxSizes", "W=960;H=640");
        model.SetMetadata("Embed", "True");
        model.SetMetadata("Labels", "labels.txt");
        var resolve = new ResolveCompressedModels { Models = [model], ProjectDirectory = project.Path, OutputDirectory = "obj/ModelCompression", BuildEngine = new NullEngine() };

        Assert.True(resolve.Execute());

        var resolved = Assert.Single(resolve.ResolvedModels);
        Assert.Equal("8", resolved.GetMetadata("ModelCompressionMaxBatchSize"));
        Assert.Equal("W=960;H=640", resolved.GetMetadata("ModelCompressionMaxSizes"));
        Assert.Equal("ModelCompression.App.Models.M.onnx", resolved.GetMetadata("ModelCompressionEmbeddedResource"));
        Assert.Equal(project.Combine("labels.txt"), resolved.GetMetadata("ModelCompressionLabels"));
        var settings = resolved.GetMetadata("Settings");
        foreach (var wrapperOnly in new[] { "960", "labels.txt", "ModelCompression.App", "=8" })
            Assert.DoesNotContain(wrapperOnly, settings, StringComparison.Ordinal);
    }

    private static CompressModel Task(string training, string plugin, string natives)
    {
        var model = new TaskItem("/p/Models/m.onnx");
        model.SetMetadata("OutputModel", "/p/obj/m.onnx");
        model.SetMetadata("ValidationDataFullPath", "/p/Models/m.validation.npz");
        model.SetMetadata("TrainingDataFullPath", training);
        model.SetMetadata("Signature", "/p/obj/m.onnx.mcsig");
        model.SetMetadata("ClassName", "M");
        model.SetMetadata("AppRelativePath", "Models/m.onnx");
        return new CompressModel { Model = model, WorkerPath = "/w/ModelCompression.Cli.dll", DistillationPlugin = plugin, TorchNativeDirectories = natives };
    }

    private static string CommandLineOf(CompressModel task) =>
        (string)typeof(CompressModel).GetMethod("GenerateCommandLineCommands", BindingFlags.Instance | BindingFlags.NonPublic)!.Invoke(task, null)! + " ";

    private sealed class NullEngine : Microsoft.Build.Framework.IBuildEngine
    {
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "";
        public bool BuildProjectFile(string projectFileName, string[] targetNames, System.Collections.IDictionary globalProperties, System.Collections.IDictionary targetOutputs) => false;
        public void LogCustomEvent(Microsoft.Build.Framework.CustomBuildEventArgs e) { }
        public void LogErrorEvent(Microsoft.Build.Framework.BuildErrorEventArgs e) => throw new InvalidOperationException(e.Message);
        public void LogMessageEvent(Microsoft.Build.Framework.BuildMessageEventArgs e) { }
        public void LogWarningEvent(Microsoft.Build.Framework.BuildWarningEventArgs e) { }
    }
}
