using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelCompression.WrapperBench;

/// <summary>
/// A tensor over a pinned managed array, as a hand-written OrtIoBinding program holds it (and as the generated wrapper
/// does): ONNX Runtime reads and writes the array in place.
/// </summary>
internal sealed class PinnedTensor : IDisposable
{
    private readonly byte[] _buffer;

    private PinnedTensor(byte[] buffer, OrtValue value)
    {
        _buffer = buffer;
        Value = value;
    }

    public OrtValue Value { get; }

    public ReadOnlySpan<byte> Bytes => _buffer;

    /// <summary>A pinned copy of <paramref name="contents"/> with the given element type and shape.</summary>
    public static PinnedTensor Create(TensorElementType elementType, long[] shape, ReadOnlySpan<byte> contents)
    {
        var buffer = GC.AllocateArray<byte>(contents.Length, pinned: true);
        contents.CopyTo(buffer);
        var value = OrtValue.CreateTensorValueWithData(
            OrtMemoryInfo.DefaultInstance, elementType, shape, Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0), buffer.Length);
        return new PinnedTensor(buffer, value);
    }

    public void Dispose() => Value.Dispose();
}
