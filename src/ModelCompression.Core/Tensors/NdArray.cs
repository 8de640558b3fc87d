using System.Runtime.InteropServices;

namespace ModelCompression.Core.Tensors;

/// <summary>
/// A dense n-dimensional array in ONNX layout: row-major, elements as little-endian bytes
/// (<see cref="Data"/>), or UTF-8 strings for string tensors. The one tensor value shared by the
/// ONNX reader, the .npz reader and the ONNX Runtime bridge.
/// </summary>
public sealed class NdArray
{
    private readonly long[] _shape;

    public NdArray(DataType elementType, ReadOnlySpan<long> shape, byte[] data)
    {
        if (elementType == DataType.String) throw new ArgumentException("Use the string constructor for string tensors.", nameof(elementType));
        var size = ElementTypes.SizeOf(elementType);
        if (size == 0) throw new NotSupportedException($"Element type {ElementTypes.Name(elementType)} is not supported.");
        _shape = shape.ToArray();
        ElementCount = CountOf(_shape);
        if (data.LongLength != ElementCount * size)
            throw new ArgumentException($"{data.LongLength} bytes do not hold {ElementCount} {ElementTypes.Name(elementType)} elements of shape [{string.Join(",", _shape)}].", nameof(data));
        ElementType = elementType;
        Data = data;
    }

    public NdArray(ReadOnlySpan<long> shape, string[] strings)
    {
        _shape = shape.ToArray();
        ElementCount = CountOf(_shape);
        if (strings.LongLength != ElementCount)
            throw new ArgumentException($"{strings.Length} strings do not fill shape [{string.Join(",", _shape)}].", nameof(strings));
        ElementType = DataType.String;
        Data = [];
        Strings = strings;
    }

    /// <summary>An array of <paramref name="values"/> (copied) with the given shape.</summary>
    public static NdArray Create<T>(ReadOnlySpan<long> shape, ReadOnlySpan<T> values) where T : unmanaged =>
        new(ElementTypes.Of<T>(), shape, MemoryMarshal.AsBytes(values).ToArray());

    public DataType ElementType { get; }

    public ReadOnlySpan<long> Shape => _shape;

    public int Rank => _shape.Length;

    public long ElementCount { get; }

    /// <summary>The element bytes (empty for string tensors).</summary>
    public byte[] Data { get; }

    /// <summary>The elements of a string tensor; null otherwise.</summary>
    public string[]? Strings { get; }

    /// <summary>The elements reinterpreted as <typeparamref name="T"/>, which must match <see cref="ElementType"/>.</summary>
    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged
    {
        if (ElementTypes.Of<T>() != ElementType)
            throw new InvalidOperationException($"A {ElementTypes.Name(ElementType)} array cannot be read as {typeof(T).Name}.");
        return MemoryMarshal.Cast<byte, T>(Data);
    }

    /// <summary>The elements converted to float (any numeric or bool element type).</summary>
    public float[] ToFloats()
    {
        var result = new float[ElementCount];
        switch (ElementType)
        {
            case DataType.Float: AsSpan<float>().CopyTo(result); break;
            case DataType.Double: Convert(AsSpan<double>(), result, v => (float)v); break;
            case DataType.Float16: Convert(AsSpan<Half>(), result, v => (float)v); break;
            case DataType.Bfloat16: Convert(MemoryMarshal.Cast<byte, ushort>(Data), result, v => BitConverter.Int32BitsToSingle(v << 16)); break;
            case DataType.Int64: Convert(AsSpan<long>(), result, v => v); break;
            case DataType.Int32: Convert(AsSpan<int>(), result, v => v); break;
            case DataType.Int16: Convert(AsSpan<short>(), result, v => v); break;
            case DataType.Int8: Convert(AsSpan<sbyte>(), result, v => v); break;
            case DataType.Uint8: Convert(AsSpan<byte>(), result, v => v); break;
            case DataType.Uint16: Convert(AsSpan<ushort>(), result, v => v); break;
            case DataType.Uint32: Convert(AsSpan<uint>(), result, v => v); break;
            case DataType.Uint64: Convert(AsSpan<ulong>(), result, v => v); break;
            case DataType.Bool: Convert(AsSpan<bool>(), result, v => v ? 1f : 0f); break;
            default: throw new NotSupportedException($"A {ElementTypes.Name(ElementType)} array has no float values.");
        }
        return result;
    }

    /// <summary>The integer elements as long (int8 through uint64, bool).</summary>
    public long[] ToInt64s()
    {
        var result = new long[ElementCount];
        switch (ElementType)
        {
            case DataType.Int64: AsSpan<long>().CopyTo(result); break;
            case DataType.Int32: Convert(AsSpan<int>(), result, v => v); break;
            case DataType.Int16: Convert(AsSpan<short>(), result, v => v); break;
            case DataType.Int8: Convert(AsSpan<sbyte>(), result, v => v); break;
            case DataType.Uint8: Convert(AsSpan<byte>(), result, v => v); break;
            case DataType.Uint16: Convert(AsSpan<ushort>(), result, v => v); break;
            case DataType.Uint32: Convert(AsSpan<uint>(), result, v => v); break;
            case DataType.Uint64: Convert(AsSpan<ulong>(), result, v => (long)v); break;
            case DataType.Bool: Convert(AsSpan<bool>(), result, v => v ? 1L : 0L); break;
            default: throw new NotSupportedException($"A {ElementTypes.Name(ElementType)} array has no integer values.");
        }
        return result;
    }

    /// <summary>Rows <paramref name="start"/> .. start+count-1 of axis 0 (the rank is kept).</summary>
    public NdArray Slice(long start, long count)
    {
        if (Rank == 0) throw new InvalidOperationException("A scalar has no axis to slice.");
        if (start < 0 || count < 0 || start + count > _shape[0])
            throw new ArgumentOutOfRangeException(nameof(start), $"Rows {start}..{start + count - 1} are outside axis 0 of length {_shape[0]}.");
        var shape = _shape.ToArray();
        shape[0] = count;
        var rowElements = _shape[0] == 0 ? 0 : ElementCount / _shape[0];
        if (Strings is not null)
            return new NdArray(shape, Strings.AsSpan((int)(start * rowElements), (int)(count * rowElements)).ToArray());
        var rowBytes = rowElements * ElementTypes.SizeOf(ElementType);
        return new NdArray(ElementType, shape, Data.AsSpan((int)(start * rowBytes), (int)(count * rowBytes)).ToArray());
    }

    /// <summary>The same elements with another shape of equal element count.</summary>
    public NdArray Reshape(ReadOnlySpan<long> shape) =>
        Strings is not null ? new NdArray(shape, Strings) : new NdArray(ElementType, shape, Data);

    public override string ToString() => $"{ElementTypes.Name(ElementType)}[{string.Join(",", _shape)}]";

    private static long CountOf(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Dimension {d} is negative.", nameof(shape));
            count *= d;
        }
        return count;
    }

    private static void Convert<TIn, TOut>(ReadOnlySpan<TIn> source, TOut[] target, Func<TIn, TOut> convert)
    {
        for (var i = 0; i < source.Length; i++) target[i] = convert(source[i]);
    }
}
