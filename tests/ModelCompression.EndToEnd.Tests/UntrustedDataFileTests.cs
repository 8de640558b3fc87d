using Google.Protobuf;
using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// A data file is untrusted input (issue 7): an .npy header no numpy writes is an MC2002 error
/// (exit code 1), never a crash of the worker.
/// </summary>
public sealed class UntrustedDataFileTests
{
    private const string Shape = "'shape': (8, 4)";

    [Fact]
    public void A_header_of_30000_nested_parentheses_is_MC2002_not_a_stack_overflow()
    {
        var nested = new string('(', 30_000) + new string(')', 30_000);

        var result = Compress($"{{'descr': '<f4', 'fortran_order': False, 'shape': {nested}, }}");

        result.AssertFailsWith("MC2002");
        Assert.Contains("header", result.Output);
    }

    [Fact]
    public void A_header_longer_than_numpy_reads_is_MC2002()
    {
        var header = $"{{'descr': '<f4', 'fortran_order': False, {Shape}, }}".PadRight(10_999);

        var result = Compress(header);

        result.AssertFailsWith("MC2002");
        Assert.Contains("11000-byte header", result.Output);
    }

    /// <summary>The control: the same header, as numpy pads it, compresses.</summary>
    [Fact]
    public void The_same_array_with_a_normal_header_compresses()
    {
        Compress($"{{'descr': '<f4', 'fortran_order': False, {Shape}, }}".PadRight(117)).AssertSucceeded();
    }

    /// <summary>Compresses a one-layer model with an .npz whose array 'x' (8 × 4 floats) has <paramref name="header"/>.</summary>
    private static WorkerResult Compress(string header)
    {
        using var dir = new TempDirectory("mc-untrusted-data");
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 4)
            .Initializer("w", Enumerable.Range(0, 16).Select(i => i / 16f).ToArray(), 4, 4)
            .Node("MatMul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "N", 4)
            .Build();
        File.WriteAllBytes(dir.Combine("model.onnx"), model.ToByteArray());
        var data = RawNpy.DataOf(Enumerable.Range(0, 32).Select(i => i / 32f).ToArray());
        RawNpy.WriteNpz(dir.Combine("data.npz"), [new("x", RawNpy.Bytes(header, data))]);
        return WorkerCli.Run(dir.Path, "compress", dir.Combine("model.onnx"),
            "--output", dir.Combine("out", "model.onnx"),
            "--validation-data", dir.Combine("data.npz"),
            "--techniques", "fusion");
    }
}
