using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Tensors;

/// <summary>Facts about ONNX element types (<see cref="DataType"/>).</summary>
public static class ElementTypes
{
    /// <summary>Bytes per element in raw (little-endian) storage; 0 for strings and sub-byte types.</summary>
    public static int SizeOf(DataType type) => type switch
    {
        DataType.Float or DataType.Int32 or DataType.Uint32 => 4,
        DataType.Double or DataType.Int64 or DataType.Uint64 or DataType.Complex64 => 8,
        DataType.Complex128 => 16,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 2,
        DataType.Uint8 or DataType.Int8 or DataType.Bool
            or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or DataType.Float8E5M2 or DataType.Float8E5M2Fnuz => 1,
        _ => 0,
    };

    /// <summary>The ONNX element type of a .NET element type.</summary>
    public static DataType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DataType.Float :
        typeof(T) == typeof(double) ? DataType.Double :
        typeof(T) == typeof(Half) ? DataType.Float16 :
        typeof(T) == typeof(long) ? DataType.Int64 :
        typeof(T) == typeof(int) ? DataType.Int32 :
        typeof(T) == typeof(short) ? DataType.Int16 :
        typeof(T) == typeof(sbyte) ? DataType.Int8 :
        typeof(T) == typeof(byte) ? DataType.Uint8 :
        typeof(T) == typeof(ushort) ? DataType.Uint16 :
        typeof(T) == typeof(uint) ? DataType.Uint32 :
        typeof(T) == typeof(ulong) ? DataType.Uint64 :
        typeof(T) == typeof(bool) ? DataType.Bool :
        throw new ArgumentException($"{typeof(T)} has no ONNX element type.");

    /// <summary>The short lowercase name used in messages and sidecars (float, float16, int64, ...).</summary>
    public static string Name(DataType type) => type switch
    {
        DataType.Float => "float",
        DataType.Float16 => "float16",
        DataType.Bfloat16 => "bfloat16",
        DataType.Double => "double",
        DataType.Int8 => "int8",
        DataType.Int16 => "int16",
        DataType.Int32 => "int32",
        DataType.Int64 => "int64",
        DataType.Uint8 => "uint8",
        DataType.Uint16 => "uint16",
        DataType.Uint32 => "uint32",
        DataType.Uint64 => "uint64",
        DataType.Bool => "bool",
        DataType.String => "string",
        _ => type.ToString().ToLowerInvariant(),
    };
}
