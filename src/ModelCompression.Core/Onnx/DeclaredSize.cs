using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Onnx;

/// <summary>What a tensor's dims and element type say its raw data holds, computed so that absurd dims cannot overflow.</summary>
internal static class DeclaredSize
{
    /// <summary>No dim is negative and the byte count fits comfortably in a long (half its range leaves room for rounding).</summary>
    public static bool IsPossible(TensorProto tensor) =>
        tensor.Dims.All(d => d >= 0) && tensor.Dims.Aggregate((double)Math.Max(1, ElementSize(tensor)), (a, d) => a * d) <= long.MaxValue / 2;

    /// <summary>The bytes the dims need in raw storage; null when the element type has no fixed size (strings, sub-byte types). Needs <see cref="IsPossible"/>.</summary>
    public static long? Bytes(TensorProto tensor) =>
        ElementSize(tensor) is var size and > 0 ? tensor.Dims.Aggregate((long)size, (a, d) => a * d) : null;

    /// <summary>"float [4, 4]", for messages.</summary>
    public static string Describe(TensorProto tensor) => $"{ElementTypes.Name((DataType)tensor.DataType)} [{string.Join(", ", tensor.Dims)}]";

    private static int ElementSize(TensorProto tensor) => ElementTypes.SizeOf((DataType)tensor.DataType);
}
