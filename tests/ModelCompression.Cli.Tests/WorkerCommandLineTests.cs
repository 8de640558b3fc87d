using ModelCompression.Cli;
using ModelCompression.Cli.Distillation;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Cli.Tests;

/// <summary>The worker's <c>compress</c> options for distillation, read into the request without compressing anything.</summary>
public sealed class WorkerCommandLineTests : IDisposable
{
    private readonly TempDirectory _folder = new("mc-cli");

    private string Model => _folder.Combine("model.onnx");

    private string Validation => _folder.Combine("validation.npz");

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Training_data_plugin_and_native_directories_reach_the_request()
    {
        var (request, output, exit) = Compress(
            "--validation-data", Validation, "--calibration-data", _folder.Combine("calibration.npz"),
            "--training-data", _folder.Combine("train.npz"),
            "--distillation-plugin", _folder.Combine("plugin", "ModelCompression.Distillation.dll"),
            "--torch-native-directories", $"{_folder.Combine("torchsharp")} ; {_folder.Combine("libtorch")};");

        Assert.Equal(0, exit);
        Assert.NotNull(request);
        Assert.Equal(_folder.Combine("train.npz"), request.TrainingDataPath);
        Assert.Equal(_folder.Combine("train.npz"), request.EffectiveTrainingDataPath);
        Assert.Equal(_folder.Combine("plugin", "ModelCompression.Distillation.dll"), request.DistillationPluginPath);
        Assert.Equal([_folder.Combine("torchsharp"), _folder.Combine("libtorch")], request.TorchNativeDirectories);
        Assert.True(request.CanDistill);
        Assert.DoesNotContain(" MC", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_the_options_nothing_distils_and_the_training_data_defaults_to_separate_calibration_data()
    {
        var (request, _, _) = Compress("--validation-data", Validation, "--calibration-data", _folder.Combine("calibration.npz"));

        Assert.NotNull(request);
        Assert.Null(request.TrainingDataPath);
        Assert.Equal(_folder.Combine("calibration.npz"), request.EffectiveTrainingDataPath);
        Assert.Null(request.DistillationPluginPath);
        Assert.Empty(request.TorchNativeDirectories);
        Assert.False(request.CanDistill);
    }

    [Fact]
    public void Calibration_data_that_is_the_validation_data_is_never_the_default_training_data()
    {
        var (request, _, _) = Compress("--validation-data", Validation, "--calibration-data", Validation,
            "--distillation-plugin", _folder.Combine("ModelCompression.Distillation.dll"));

        Assert.NotNull(request);
        Assert.Null(request.EffectiveTrainingDataPath);
        Assert.False(request.CanDistill);
    }

    [Fact]
    public void Training_data_that_is_the_validation_data_is_error_MC2009()
    {
        var (request, output, exit) = Compress("--validation-data", Validation, "--training-data", _folder.Combine(".", "validation.npz"));

        Assert.Equal(1, exit);
        Assert.Null(request); // refused before any work
        Assert.Contains($"error {DiagnosticCode.TrainingDataIsValidationData}: TrainingData is the ValidationData file", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("distill")]
    [InlineData("fusion;int8;distill")]
    [InlineData(" Distill , int4")]
    public void Distill_listed_without_the_package_warns_MC3101_naming_the_package_reference(string techniques)
    {
        var (request, output, exit) = Compress("--validation-data", Validation, "--techniques", techniques);

        Assert.Equal(0, exit);
        Assert.NotNull(request);
        var warning = Assert.Single(output.Split('\n'), l => l.Contains($"warning {DiagnosticCode.DistillationPackageMissing}:", StringComparison.Ordinal));
        Assert.Contains($"<PackageReference Include=\"ModelCompression.Build.Distillation\" Version=\"{Compressor.ToolVersion}\" />", warning, StringComparison.Ordinal);
        Assert.StartsWith(Model, warning, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]                 // the default: all that apply; distill does not apply without the package
    [InlineData("fusion;int8")]        // distill not listed
    public void No_warning_when_distill_is_not_listed(string? techniques)
    {
        var arguments = new List<string> { "--validation-data", Validation };
        if (techniques is not null) arguments.AddRange(["--techniques", techniques]);

        var (request, output, exit) = Compress([.. arguments]);

        Assert.Equal(0, exit);
        Assert.NotNull(request);
        Assert.DoesNotContain(DiagnosticCode.DistillationPackageMissing, output, StringComparison.Ordinal);
    }

    [Fact]
    public void No_warning_when_distill_is_listed_and_the_package_is_installed()
    {
        var (_, output, exit) = Compress("--validation-data", Validation, "--techniques", "distill",
            "--distillation-plugin", _folder.Combine("ModelCompression.Distillation.dll"));

        Assert.Equal(0, exit);
        Assert.DoesNotContain(DiagnosticCode.DistillationPackageMissing, output, StringComparison.Ordinal);
    }

    [Fact]
    public void Reading_a_request_with_a_plugin_loads_neither_the_plugin_nor_TorchSharp()
    {
        var (request, _, _) = Compress("--validation-data", Validation, "--techniques", "distill",
            "--distillation-plugin", _folder.Combine("ModelCompression.Distillation.dll"));

        Assert.NotNull(request);
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name is "TorchSharp" or "ModelCompression.Distillation");
    }

    /// <summary>Runs <c>compress model.onnx --output ... arguments</c> with a compressor that only records the request.</summary>
    private (CompressionRequest? Request, string Output, int ExitCode) Compress(params string[] arguments)
    {
        CompressionRequest? captured = null;
        using var output = new StringWriter();
        var exit = CommandLine.Build(output, (request, _) => captured = request)
            .Parse(["compress", Model, "--output", _folder.Combine("out.onnx"), .. arguments])
            .Invoke();
        return (captured, output.ToString(), exit);
    }
}

/// <summary>The plugin loader's errors, without libtorch (the end-to-end tests load the real plugin).</summary>
public sealed class DistillationPluginLoaderTests
{
    [Fact]
    public void A_missing_plugin_says_the_package_is_incomplete()
    {
        using var folder = new TempDirectory("mc-plugin");
        var missing = folder.Combine("ModelCompression.Distillation.dll");

        var error = Assert.Throws<DistillationPluginException>(() => DistillationPlugin.Load(missing, []));

        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Contains("ModelCompression.Build.Distillation package is incomplete", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_assembly_without_the_entry_type_is_not_a_plugin()
    {
        // A real .NET assembly that is not the plugin, copied so it loads in its own context.
        using var folder = new TempDirectory("mc-plugin");
        var notAPlugin = folder.Combine("NotAPlugin.dll");
        File.Copy(typeof(TempDirectory).Assembly.Location, notAPlugin);

        var error = Assert.Throws<DistillationPluginException>(() => DistillationPlugin.Load(notAPlugin, []));

        Assert.Contains($"has no {DistillationPlugin.EntryTypeName}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_compressor_gets_no_distiller_factory_when_the_request_cannot_distil()
    {
        using var folder = new TempDirectory("mc-plugin");
        var request = new CompressionRequest
        {
            ModelPath = folder.Combine("m.onnx"), OutputPath = folder.Combine("o.onnx"),
            ValidationDataPath = folder.Combine("v.npz"), TrainingDataPath = folder.Combine("t.npz"),
            DistillationPluginPath = folder.Combine("missing", "ModelCompression.Distillation.dll"),
        };

        Assert.Null(DistillationPlugin.FactoryFor(request with { DistillationPluginPath = null }));
        Assert.Null(DistillationPlugin.FactoryFor(request with { Techniques = Technique.Fusion | Technique.Int8 }));
        Assert.Null(DistillationPlugin.FactoryFor(request with { TrainingDataPath = null }));

        // It can distil: the factory is made, and only calling it loads the plugin (missing here, so it says so then).
        var factory = DistillationPlugin.FactoryFor(request);
        Assert.NotNull(factory);
        var error = Assert.Throws<DistillationPluginException>(() => factory());
        Assert.Contains(request.DistillationPluginPath!, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_distillation_check_command_without_a_plugin_fails_and_says_which_option_is_missing()
    {
        using var output = new StringWriter();

        var exit = CommandLine.Build(output, (_, _) => { }).Parse(["distillation-check"]).Invoke();

        Assert.Equal(1, exit);
        Assert.Contains("--distillation-plugin is not set", output.ToString(), StringComparison.Ordinal);
    }
}
