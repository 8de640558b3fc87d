using System.Runtime.InteropServices;
using Google.Protobuf;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Tensors;

/// <summary>Converts between ONNX <see cref="TensorProto"/> (raw or typed storage) and <see cref="NdArray"/>.</summary>
public static class TensorProtoConverter
{
    /// <summary>The tensor's value. External data must already be loaded (see <see cref="OnnxModelFile"/>).</summary>
    public static NdArray ToNdArray(TensorProto tensor)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
            throw new InvalidOperationException($"Tensor '{tensor.Name}' still points at external data; load the model with OnnxModelFile.Load.");
        var type = (DataType)tensor.DataType;
        var shape = tensor.Dims.ToArray();
        if (type == DataType.String)
            return new NdArray(shape, tensor.StringData.Select(s => s.ToStringUtf8()).ToArray());
        if (!tensor.RawData.IsEmpty)
            return new NdArray(type, shape, tensor.RawData.ToByteArray());
        return new NdArray(type, shape, TypedFieldBytes(tensor, type));
    }

    /// <summary>A tensor named <paramref name="name"/> holding <paramref name="array"/> (numbers as raw_data).</summary>
    public static TensorProto ToTensorProto(NdArray array, string name)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)array.ElementType };
        tensor.Dims.AddRange(array.Shape.ToArray());
        if (array.Strings is not null)
            tensor.StringData.AddRange(array.Strings.Select(ByteString.CopyFromUtf8));
        else
            tensor.RawData = ByteString.CopyFrom(array.Data);
        return tensor;
    }

    /// <summary>The number of elements a tensor holds, from its dims.</summary>
    public static long ElementCount(TensorProto tensor) => tensor.Dims.Aggregate(1L, (a, d) => a * d);

    // Typed fields store small types widened (int32_data holds int8 ... float16 bit patterns).
    private static byte[] TypedFieldBytes(TensorProto t, DataType type)
    {
        switch (type)
        {
            case DataType.Float:
            case DataType.Complex64:
                return MemoryMarshal.AsBytes(t.FloatData.ToArray().AsSpan()).ToArray();
            case DataType.Double:
            case DataType.Complex128:
                return MemoryMarshal.AsBytes(t.DoubleData.ToArray().AsSpan()).ToArray();
            case DataType.Int64:
                return MemoryMarshal.AsBytes(t.Int64Data.ToArray().AsSpan()).ToArray();
            case DataType.Int32:
                return MemoryMarshal.AsBytes(t.Int32Data.ToArray().AsSpan()).ToArray();
            case DataType.Uint32:
                return MemoryMarshal.AsBytes(t.Uint64Data.Select(v => (uint)v).ToArray().AsSpan()).ToArray();
            case DataType.Uint64:
                return MemoryMarshal.AsBytes(t.Uint64Data.ToArray().AsSpan()).ToArray();
            case DataType.Int16:
            case DataType.Uint16:
            case DataType.Float16:
            case DataType.Bfloat16:
                return MemoryMarshal.AsBytes(t.Int32Data.Select(v => (ushort)v).ToArray().AsSpan()).ToArray();
            case DataType.Int8:
            case DataType.Uint8:
            case DataType.Bool:
            case DataType.Float8E4M3Fn:
            case DataType.Float8E4M3Fnuz:
            case DataType.Float8E5M2:
            case DataType.Float8E5M2Fnuz:
                return t.Int32Data.Select(v => (byte)v).ToArray();
            default:
                throw new NotSupportedException($"Tensor '{t.Name}' has element type {ElementTypes.Name(type)}, which this tool does not read.");
        }
    }
}
