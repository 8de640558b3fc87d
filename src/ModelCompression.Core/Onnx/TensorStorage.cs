using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Onnx;

/// <summary>
/// Whether a tensor's stored values fit its dims and element type, as ONNX Runtime requires when it loads the
/// model: no negative dimension, a countable number of elements, and exactly as many bytes (raw_data) or values
/// (the typed fields) as that number needs. External data is checked where it is read.
/// </summary>
public static class TensorStorage
{
    /// <returns>null when the data fits; otherwise what is wrong, as the end of a sentence about the tensor.</returns>
    public static string? Problem(TensorProto tensor)
    {
        var type = (DataType)tensor.DataType;
        var dims = $"[{string.Join(",", tensor.Dims)}]";
        if (tensor.Dims.Any(d => d < 0)) return $"has a negative dimension in its dims {dims}";
        if (ElementCount(tensor) is not { } count) return $"has dims {dims}, more elements than any tensor can hold";
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External) return null;
        if (tensor.HasRawData)
        {
            var bytes = RawBytes(type, count);
            return bytes is null || bytes == tensor.RawData.Length ? null
                : $"holds {tensor.RawData.Length} bytes of data where its dims {dims} of {ElementTypes.Name(type)} need {bytes} bytes";
        }
        var (stored, needed) = TypedValues(tensor, type, count);
        return needed is null || stored == needed ? null
            : $"holds {stored} values where its dims {dims} of {ElementTypes.Name(type)} need {needed}";
    }

    /// <summary>The number of elements the dims declare; null when a dim is negative or the count overflows.</summary>
    public static long? ElementCount(TensorProto tensor)
    {
        if (tensor.Dims.Any(d => d < 0)) return null;
        try
        {
            return tensor.Dims.Aggregate(1L, (a, d) => checked(a * d));
        }
        catch (OverflowException)
        {
            return null;
        }
    }

    /// <summary>The bytes the dims need as raw data; null when the count is impossible or the type has no raw form (strings).</summary>
    public static long? RawBytes(TensorProto tensor) =>
        ElementCount(tensor) is { } count ? RawBytes((DataType)tensor.DataType, count) : null;

    /// <summary>"float [4, 4]", for messages.</summary>
    public static string Describe(TensorProto tensor) => $"{ElementTypes.Name((DataType)tensor.DataType)} [{string.Join(", ", tensor.Dims)}]";

    // Sub-byte types pack two elements per byte; null where raw storage is not defined (strings, unknown types).
    private static long? RawBytes(DataType type, long count) => type switch
    {
        DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => (count + 1) / 2,
        _ => ElementTypes.SizeOf(type) is > 0 and var size && count <= long.MaxValue / size ? count * size : null,
    };

    // The typed field that holds each element type, and how many entries it needs (complex numbers take two, 4-bit types half).
    private static (int Stored, long? Needed) TypedValues(TensorProto t, DataType type, long count) => type switch
    {
        DataType.Float => (t.FloatData.Count, count),
        DataType.Complex64 => (t.FloatData.Count, 2 * count),
        DataType.Double => (t.DoubleData.Count, count),
        DataType.Complex128 => (t.DoubleData.Count, 2 * count),
        DataType.Int64 => (t.Int64Data.Count, count),
        DataType.Uint32 or DataType.Uint64 => (t.Uint64Data.Count, count),
        DataType.String => (t.StringData.Count, count),
        DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1 => (t.Int32Data.Count, (count + 1) / 2),
        DataType.Int32 or DataType.Int16 or DataType.Int8 or DataType.Uint16 or DataType.Uint8 or DataType.Bool
            or DataType.Float16 or DataType.Bfloat16
            or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz => (t.Int32Data.Count, count),
        _ => (0, null),
    };
}
