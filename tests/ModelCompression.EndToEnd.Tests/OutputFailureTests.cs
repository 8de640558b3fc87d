using Google.Protobuf;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// An output the worker cannot write is MC6001 naming the path, never MC9001 or a stack trace. Tests run as root,
/// which ignores permissions, so each case blocks the write with something in the way: a file where a folder must
/// be created, or a folder where the file must go.
/// </summary>
public sealed class OutputFailureTests
{
    public static TheoryData<string> BlockedOutputs => new()
    {
        "model folder is a file",
        "model path is a folder",
        "sidecar folder is a file",
        "report folder is a file",
        "best candidate path is a folder",
    };

    [Theory]
    [MemberData(nameof(BlockedOutputs))]
    public void An_unwritable_output_is_MC6001_naming_it(string blocked)
    {
        using var folder = new TempDirectory("mc output");
        var model = folder.Combine("mlp.onnx");
        File.WriteAllBytes(model, Mlp().ToByteArray());
        var data = folder.Combine("mlp.validation.npz");
        NpzArchive.Write(data, [new("x", NdArray.Create<float>([16, 4], Enumerable.Range(0, 64).Select(i => MathF.Sin(i)).ToArray()))]);
        var blocker = folder.Combine("blocker");
        File.WriteAllText(blocker, "a file where a folder is needed");
        var output = folder.Combine("out", "mlp.onnx");
        var signature = folder.Combine("out", "mlp.onnx.mcsig");
        var report = folder.Combine("report");
        // 16 samples resolve a drop of 6.25 points at best (MC2008 below that).
        List<string> search = ["--validation-data", data, "--techniques", "fusion;int8", "--max-accuracy-drop", "10%", "--lock", folder.Combine("mlp.lock.json")];
        (string Path, string[] Arguments) run = blocked switch
        {
            // Without data the outputs are written right after the lossless rewrites.
            "model folder is a file" => (Path.Combine(blocker, "mlp.onnx"), ["--output", Path.Combine(blocker, "mlp.onnx"), "--signature", signature]),
            "model path is a folder" => (output, ["--output", output, "--signature", signature]),
            "sidecar folder is a file" => (Path.Combine(blocker, "mlp.onnx.mcsig"), ["--output", output, "--signature", Path.Combine(blocker, "mlp.onnx.mcsig")]),
            "report folder is a file" => (Path.Combine(blocker, "report"), ["--output", output, "--report-dir", Path.Combine(blocker, "report"), .. search]),
            // A size no candidate meets: the closest candidate is written beside the report.
            "best candidate path is a folder" => (Path.Combine(report, "mlp.best-candidate.onnx"), ["--output", output, "--report-dir", report, "--max-size", "1", .. search]),
            _ => throw new ArgumentOutOfRangeException(nameof(blocked), blocked, null),
        };
        if (blocked.EndsWith("is a folder", StringComparison.Ordinal)) Directory.CreateDirectory(run.Path);

        var result = WorkerCli.Run(folder.Path, ["compress", model, .. run.Arguments]);

        result.AssertFailsWith("MC6001");
        var error = Assert.Single(result.Output.Split('\n'), l => l.Contains(" : error MC6001: ", StringComparison.Ordinal));
        Assert.StartsWith(run.Path, error); // the file it could not write (for the report: a file in that folder)
    }

    // x [N, 4] → MatMul [4, 8] → Relu → MatMul [8, 3] → y [N, 3]: small enough for a search of seconds.
    private static ModelProto Mlp() =>
        new OnnxBuilder()
            .Input("x", DataType.Float, "N", 4L)
            .Output("y", DataType.Float, "N", 3L)
            .Initializer("w1", Enumerable.Range(0, 32).Select(i => MathF.Cos(i) / 2).ToArray(), 4, 8)
            .Initializer("w2", Enumerable.Range(0, 24).Select(i => MathF.Sin(i) / 2).ToArray(), 8, 3)
            .Node("MatMul", ["x", "w1"], ["h"])
            .Node("Relu", ["h"], ["r"])
            .Node("MatMul", ["r", "w2"], ["y"])
            .Build();
}
