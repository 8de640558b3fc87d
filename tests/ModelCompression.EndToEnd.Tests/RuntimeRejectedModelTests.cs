using Google.Protobuf;
using ModelCompression.Core.Data;
using ModelCompression.Core.Tensors;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// Untrusted models that parse as protobuf but that ONNX Runtime rejects: each is one coded error
/// (MC1002 when the structure is wrong, MC1003 when only ONNX Runtime can tell), never MC9001 or a stack trace,
/// whichever path of the worker meets the model first (lossless rewrites, their verification, the signature).
/// </summary>
public sealed class RuntimeRejectedModelTests
{
    public static TheoryData<string, string> BadModels => new()
    {
        { "unknown-operator", "MC1003" },
        { "opset-1", "MC1003" },
        { "opset-999", "MC1003" },
        { "cycle", "MC1002" },
        { "duplicate-graph-output", "MC1002" },
        { "value-produced-twice", "MC1002" },
        { "raw-data-shorter-than-dims", "MC1002" },
        { "dims-of-10^12", "MC1002" },
        { "negative-dim", "MC1002" },
    };

    [Theory]
    [MemberData(nameof(BadModels))]
    public void Compress_WithValidationData_FailsWithOneCodedError(string fault, string code) =>
        AssertRejected(fault, code, (model, data, output) =>
            ["compress", model, "--output", Path.Combine(output, "small.onnx"), "--validation-data", data,
             "--signature", Path.Combine(output, "small.onnx.mcsig"), "--report-dir", Path.Combine(output, "report")]);

    /// <summary>Without data the lossless rewrites run before any ONNX Runtime session: they must not hide the problem or hang.</summary>
    [Theory]
    [MemberData(nameof(BadModels))]
    public void Compress_WithoutValidationData_FailsWithOneCodedError(string fault, string code) =>
        AssertRejected(fault, code, (model, _, output) =>
            ["compress", model, "--output", Path.Combine(output, "small.onnx"), "--signature", Path.Combine(output, "small.onnx.mcsig")]);

    [Theory]
    [MemberData(nameof(BadModels))]
    public void Signature_FailsWithOneCodedError(string fault, string code) =>
        AssertRejected(fault, code, (model, data, output) =>
            ["signature", model, "--validation-data", data, "--signature", Path.Combine(output, "small.onnx.mcsig")]);

    // Runs the worker with the arguments for (model, data, output folder): one error with `code` naming the model, and no output.
    private static void AssertRejected(string fault, string code, Func<string, string, string, string[]> arguments)
    {
        using var folder = new TempDirectory("mc rejected");
        var (model, data) = Write(folder, fault);
        var output = folder.Combine("out");

        var result = WorkerCli.Run(folder.Path, arguments(model, data, output));

        result.AssertFailsWith(code);
        var error = Assert.Single(result.Output.Split('\n'), l => l.Contains(" : error ", StringComparison.Ordinal));
        Assert.StartsWith(model + " : error ", error);
        Assert.False(Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output, "*", SearchOption.AllDirectories).Any(),
            $"The worker wrote outputs for a model it rejected.{Environment.NewLine}{result.Command}");
    }

    /// <summary>The model <paramref name="name"/> of <see cref="RejectedModels"/> as bad.onnx, and data for its input x [N, 4].</summary>
    public static (string Model, string Data) Write(TempDirectory folder, string name)
    {
        var model = folder.Combine("bad.onnx");
        File.WriteAllBytes(model, RejectedModels.Build(name).ToByteArray());
        var data = folder.Combine("bad.validation.npz");
        var x = NdArray.Create<float>([8, 4], Enumerable.Range(0, 32).Select(i => i / 8f - 2).ToArray());
        NpzArchive.Write(data, [new("x", x)]);
        return (model, data);
    }
}
