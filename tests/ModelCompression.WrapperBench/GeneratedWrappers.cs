using System.Runtime.InteropServices;

namespace ModelCompression.WrapperBench;

/// <summary>
/// A generated wrapper seen through its ONNX tensor names, so that one benchmark class drives every corpus model's
/// wrapper. The generated classes (from Sidecars/*.mcsig) are partial; the parts below add this interface, whose
/// <c>Run</c> methods are the generated ones.
/// </summary>
public interface IGeneratedWrapper : IDisposable
{
    void Run();

    /// <summary>
    /// The generated <c>Run(int batchSize)</c> when the wrapper has a <c>MaxBatchSize</c> (see the project file's
    /// WrapperMaxBatchSize); otherwise this batch-1 stand-in.
    /// </summary>
    void Run(int batchSize)
    {
        if (batchSize != 1)
            throw new NotSupportedException($"{GetType().Name} was generated without MaxBatchSize: it runs batch 1 only (set WrapperMaxBatchSize in its project file).");
        Run();
    }

    /// <summary>The input buffer named <paramref name="onnxName"/> in the model, as bytes.</summary>
    Span<byte> InputBytes(string onnxName);

    /// <summary>The output buffer named <paramref name="onnxName"/> in the model, as bytes.</summary>
    ReadOnlySpan<byte> OutputBytes(string onnxName);
}

internal static class TensorNames
{
    public static ArgumentException Unknown(IGeneratedWrapper wrapper, string onnxName) =>
        new($"{wrapper.GetType().Name} has no tensor named '{onnxName}'; rewrite the sidecars (WriteSidecars) if the model changed.", nameof(onnxName));
}

public sealed partial class DigitsMlp : IGeneratedWrapper
{
    Span<byte> IGeneratedWrapper.InputBytes(string onnxName) => onnxName == "input" ? MemoryMarshal.AsBytes(Input) : throw TensorNames.Unknown(this, onnxName);
    ReadOnlySpan<byte> IGeneratedWrapper.OutputBytes(string onnxName) => onnxName == "logits" ? MemoryMarshal.AsBytes(Logits) : throw TensorNames.Unknown(this, onnxName);
}

public sealed partial class FashionCnn : IGeneratedWrapper
{
    Span<byte> IGeneratedWrapper.InputBytes(string onnxName) => onnxName == "input" ? MemoryMarshal.AsBytes(Input) : throw TensorNames.Unknown(this, onnxName);
    ReadOnlySpan<byte> IGeneratedWrapper.OutputBytes(string onnxName) => onnxName == "logits" ? MemoryMarshal.AsBytes(Logits) : throw TensorNames.Unknown(this, onnxName);
}

public sealed partial class PpocrCls : IGeneratedWrapper
{
    Span<byte> IGeneratedWrapper.InputBytes(string onnxName) => onnxName == "x" ? MemoryMarshal.AsBytes(X) : throw TensorNames.Unknown(this, onnxName);
    ReadOnlySpan<byte> IGeneratedWrapper.OutputBytes(string onnxName) => onnxName == "softmax_0.tmp_0" ? MemoryMarshal.AsBytes(Softmax0Tmp0) : throw TensorNames.Unknown(this, onnxName);
}

public sealed partial class PpocrRec : IGeneratedWrapper
{
    Span<byte> IGeneratedWrapper.InputBytes(string onnxName) => onnxName == "x" ? MemoryMarshal.AsBytes(X) : throw TensorNames.Unknown(this, onnxName);
    ReadOnlySpan<byte> IGeneratedWrapper.OutputBytes(string onnxName) => onnxName == "softmax_11.tmp_0" ? MemoryMarshal.AsBytes(Softmax11Tmp0) : throw TensorNames.Unknown(this, onnxName);
}

public sealed partial class SileroVad : IGeneratedWrapper
{
    Span<byte> IGeneratedWrapper.InputBytes(string onnxName) => onnxName switch
    {
        "input" => MemoryMarshal.AsBytes(Input),
        "state" => MemoryMarshal.AsBytes(State),
        "sr" => MemoryMarshal.AsBytes(Sr),
        _ => throw TensorNames.Unknown(this, onnxName),
    };

    ReadOnlySpan<byte> IGeneratedWrapper.OutputBytes(string onnxName) => onnxName switch
    {
        "output" => MemoryMarshal.AsBytes(Output),
        "stateN" => MemoryMarshal.AsBytes(StateN),
        _ => throw TensorNames.Unknown(this, onnxName),
    };
}
