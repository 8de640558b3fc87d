using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>What a user sees at normal verbosity when ONNX Runtime rejects the model: one MC1003, no stack trace, no native log.</summary>
public sealed class RejectedModelBuildTests(PackedPackage package)
{
    private const string Model = "Models/bad.onnx";

    [Fact]
    public void A_model_ONNX_Runtime_rejects_fails_the_build_with_one_MC1003_and_no_stack_trace()
    {
        using var app = new ConsumerProject(package);
        Directory.CreateDirectory(app.PathOf("Models"));
        using (var folder = new TempDirectory("mc rejected"))
        {
            var (model, data) = RuntimeRejectedModelTests.Write(folder, "opset-999");
            File.Copy(model, app.PathOf("Models", "bad.onnx"));
            File.Copy(data, app.PathOf("Models", "bad.validation.npz"));
        }
        app.WriteProject($"""<CompressedModel Include="{Model}" ValidationData="Models/bad.validation.npz" />""");

        var build = app.Build().AssertFailed();

        var error = Assert.Single(build.Errors);
        Assert.Equal("MC1003", error.Code);
        Assert.Equal(app.PathOf("Models", "bad.onnx"), error.File);
        Assert.Contains("999", error.Message);
        Assert.DoesNotContain("   at ", build.Output);
        Assert.DoesNotContain("Unhandled exception", build.Output);
        Assert.DoesNotContain("onnxruntime_src", build.Output); // ONNX Runtime's source paths belong in the detailed log
        Assert.DoesNotContain("[E:onnxruntime", build.Output);  // and so does its own log on stderr
        Assert.False(File.Exists(app.CompressionOutput(Model)));
    }
}
