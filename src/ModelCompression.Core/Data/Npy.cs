using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Data;

/// <summary>What an .npy header declares: the element type and the shape (empty for a scalar).</summary>
public sealed record NpyHeader(DataType ElementType, IReadOnlyList<long> Shape)
{
    public int Rank => Shape.Count;

    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    public long DataLength => ElementCount * ElementTypes.SizeOf(ElementType);

    public override string ToString() => $"{Npy.DtypeName(ElementType)} [{string.Join(", ", Shape)}]";
}

/// <summary>
/// Reads and writes numpy's .npy format (versions 1.0, 2.0 and 3.0): a magic string, a header
/// that is a Python dict literal (<c>descr</c>, <c>fortran_order</c>, <c>shape</c>), then the
/// elements in C order. Little-endian numeric and bool arrays only; anything else is an MC2002
/// error that says how to save the array instead.
/// </summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];
    private const int Alignment = 64; // numpy pads the header so the data starts 64-byte aligned
    // numpy's own reader refuses longer headers (max_header_size in numpy/lib/format.py): no array it reads needs more.
    private const int MaxHeaderLength = 10_000;
    // Errors quote at most this much of a header: enough to recognise it, not the whole of a hostile one.
    private const int QuotedHeaderLength = 200;

    /// <summary>Reads the header of the array at the start of <paramref name="stream"/>, leaving the stream at its data.</summary>
    /// <param name="file">The data file, named in errors.</param>
    /// <param name="name">The array's name in that file, named in errors.</param>
    /// <exception cref="CompressionException">MC2002: not an .npy array, or one this tool cannot read.</exception>
    public static NpyHeader ReadHeader(Stream stream, string file, string name)
    {
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            stream.ReadExactly(prefix);
            if (!prefix[..6].SequenceEqual(Magic))
                throw Invalid(file, name, "does not start with numpy's .npy magic string; write the file with np.savez or np.savez_compressed");
            var major = prefix[6];
            var lengthBytes = major == 1 ? 2 : 4;
            if (major is < 1 or > 3)
                throw Invalid(file, name, $"is in .npy format version {major}.{prefix[7]}; this tool reads versions 1.0 to 3.0 (write it with numpy's np.savez)");
            Span<byte> lengthField = stackalloc byte[4];
            stream.ReadExactly(lengthField[..lengthBytes]);
            var headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(lengthField) : BinaryPrimitives.ReadUInt32LittleEndian(lengthField);
            if (headerLength > MaxHeaderLength)
                throw Invalid(file, name, $"declares a {headerLength}-byte header, longer than the {MaxHeaderLength} bytes numpy itself reads: the file is corrupt or not written by numpy; write it again with np.savez");
            var headerBytes = new byte[headerLength];
            stream.ReadExactly(headerBytes);
            var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);
            return ParseHeader(header, file, name);
        }
        catch (EndOfStreamException)
        {
            throw Invalid(file, name, "ends inside its header: the file is truncated; write it again");
        }
    }

    /// <summary>Reads one whole array (header and data) from <paramref name="stream"/>.</summary>
    /// <exception cref="CompressionException">MC2002: not an .npy array, one this tool cannot read, or truncated.</exception>
    /// <param name="storedBytes">The entry's whole length when known (a zip entry's): data longer than it is refused before any allocation.</param>
    public static NdArray Read(Stream stream, string file, string name, long? storedBytes = null)
    {
        var header = ReadHeader(stream, file, name);
        if (header.DataLength > Array.MaxLength)
            throw Invalid(file, name, $"holds {Bytes(header.DataLength)} bytes ({header}), more than one array can hold in memory (2 GB); use fewer samples");
        if (header.DataLength > storedBytes)
            throw Invalid(file, name, $"declares {Bytes(header.DataLength)} data bytes ({header}), but its entry holds {Bytes(storedBytes.Value)} bytes in all: the file is truncated or corrupt; write it again");
        var data = new byte[header.DataLength];
        try
        {
            stream.ReadExactly(data);
        }
        catch (EndOfStreamException)
        {
            throw Invalid(file, name, $"ends before the {Bytes(header.DataLength)} data bytes its header ({header}) declares: the file is truncated; write it again");
        }
        return new NdArray(header.ElementType, header.Shape.ToArray(), data);
    }

    private static string Bytes(long count) => count.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Writes <paramref name="array"/> as an .npy (version 1.0, or 2.0 when the header needs it).</summary>
    public static void Write(Stream stream, NdArray array)
    {
        var shape = array.Rank switch
        {
            0 => "()",
            1 => $"({array.Shape[0]},)",
            _ => $"({string.Join(", ", array.Shape.ToArray())})",
        };
        var dict = $"{{'descr': '{Descr(array.ElementType)}', 'fortran_order': False, 'shape': {shape}, }}";
        var lengthBytes = 2;
        if (PaddedLength(dict, lengthBytes) > ushort.MaxValue) lengthBytes = 4; // version 2.0 only for huge headers
        var prefixLength = Magic.Length + 2 + lengthBytes;
        var header = dict.PadRight(PaddedLength(dict, lengthBytes) - 1) + "\n";

        Span<byte> prefix = stackalloc byte[prefixLength];
        Magic.CopyTo(prefix);
        prefix[6] = (byte)(lengthBytes == 2 ? 1 : 2);
        prefix[7] = 0;
        if (lengthBytes == 2) BinaryPrimitives.WriteUInt16LittleEndian(prefix[8..], (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(prefix[8..], (uint)header.Length);
        stream.Write(prefix);
        stream.Write(Encoding.Latin1.GetBytes(header));
        stream.Write(array.Data);
    }

    // The header (dict, spaces, '\n') is padded so that the data after it starts aligned.
    private static int PaddedLength(string dict, int lengthBytes)
    {
        var unpadded = Magic.Length + 2 + lengthBytes + dict.Length + 1;
        return dict.Length + 1 + (Alignment - unpadded % Alignment) % Alignment;
    }

    /// <summary>numpy's name of an element type (float32, int64, bool, ...), as users know it from Python.</summary>
    public static string DtypeName(DataType type) => type switch
    {
        DataType.Float => "float32",
        DataType.Float16 => "float16",
        DataType.Double => "float64",
        DataType.Bool => "bool",
        _ => ElementTypes.Name(type),
    };

    private static string Descr(DataType type) => type switch
    {
        DataType.Float => "<f4",
        DataType.Float16 => "<f2",
        DataType.Double => "<f8",
        DataType.Int64 => "<i8",
        DataType.Int32 => "<i4",
        DataType.Int16 => "<i2",
        DataType.Int8 => "|i1",
        DataType.Uint8 => "|u1",
        DataType.Uint16 => "<u2",
        DataType.Uint32 => "<u4",
        DataType.Uint64 => "<u8",
        DataType.Bool => "|b1",
        _ => throw new ArgumentException($"A {ElementTypes.Name(type)} array has no .npy element type.", nameof(type)),
    };

    private static NpyHeader ParseHeader(string text, string file, string name)
    {
        Dictionary<string, object?> dict;
        try
        {
            dict = PythonLiteral.Parse(text) as Dictionary<string, object?>
                ?? throw Invalid(file, name, "has a header that is not a Python dict; write it with np.savez");
        }
        catch (FormatException e)
        {
            throw Invalid(file, name, $"has an unreadable header ({e.Message}): {Quote(text)}; write it with np.savez");
        }
        if (!dict.TryGetValue("descr", out var descr) || !dict.TryGetValue("shape", out var shapeValue) || !dict.TryGetValue("fortran_order", out var fortran))
            throw Invalid(file, name, $"has a header without 'descr', 'fortran_order' and 'shape': {Quote(text)}; write it with np.savez");

        if (shapeValue is not List<object?> dims || dims.Any(d => d is not long n || n < 0))
            throw Invalid(file, name, $"has the shape {Show(shapeValue)}, which is not a tuple of sizes");
        var shape = dims.Cast<long>().ToArray();

        if (descr is not string dtype)
            throw Invalid(file, name, $"has a structured dtype {Show(descr)}; save each field as its own array, e.g. np.savez(f, input=x['input'])");
        var elementType = ElementTypeOf(dtype, file, name);

        if (fortran is not bool isFortran)
            throw Invalid(file, name, $"has fortran_order = {Show(fortran)}, which is not True or False");
        // In rank 0 and 1 both orders lay elements out alike.
        if (isFortran && shape.Length > 1)
            throw Invalid(file, name, "is stored in Fortran (column-major) order; save np.ascontiguousarray(x) instead");

        if (shape.Aggregate(1.0, (a, d) => a * d) * ElementTypes.SizeOf(elementType) > long.MaxValue / 2)
            throw Invalid(file, name, $"has the impossible shape {Show(shapeValue)}: the file is corrupt");
        return new NpyHeader(elementType, shape);
    }

    private static string Quote(string header)
    {
        var text = header.Trim();
        return text.Length <= QuotedHeaderLength ? $"\"{text}\"" : $"\"{text[..QuotedHeaderLength]}…\" ({text.Length} characters)";
    }

    private static DataType ElementTypeOf(string dtype, string file, string name)
    {
        var order = dtype.Length > 0 && dtype[0] is '<' or '>' or '|' or '=' ? dtype[0] : '\0';
        var code = order == '\0' ? dtype : dtype[1..];
        DataType? type = code switch
        {
            "f2" => DataType.Float16,
            "f4" => DataType.Float,
            "f8" => DataType.Double,
            "i1" => DataType.Int8,
            "i2" => DataType.Int16,
            "i4" => DataType.Int32,
            "i8" => DataType.Int64,
            "u1" => DataType.Uint8,
            "u2" => DataType.Uint16,
            "u4" => DataType.Uint32,
            "u8" => DataType.Uint64,
            "b1" => DataType.Bool,
            _ => null,
        };
        if (type is not { } known)
        {
            var what = code.Length > 0 ? code[0] switch
            {
                'O' => "Python objects (dtype object)",
                'U' or 'S' or 'a' => "strings",
                'c' => "complex numbers",
                'M' or 'm' => "dates or time spans",
                'V' => "raw records (a void or structured dtype)",
                _ => "elements",
            } : "elements";
            throw Invalid(file, name, $"holds {what} of dtype '{dtype}', which a model cannot take; save it as a numeric array, e.g. x.astype(np.float32) or labels.astype(np.int64)");
        }
        // Byte order only matters for multi-byte elements; '=' (native) and '|' (not applicable) say nothing about them.
        if (ElementTypes.SizeOf(known) > 1 && order != '<')
        {
            var why = order == '>' ? "is big-endian" : $"does not say its byte order ('{dtype}')";
            throw Invalid(file, name, $"{why}; save it as little-endian, e.g. x.astype('<{code}')");
        }
        return known;
    }

    private static string Show(object? value) => value switch
    {
        null => "None",
        string s => $"'{s}'",
        bool b => b ? "True" : "False",
        long n => n.ToString(CultureInfo.InvariantCulture),
        List<object?> items => $"({string.Join(", ", items.Select(Show))})",
        _ => value.ToString() ?? "",
    };

    internal static CompressionException Invalid(string file, string name, string problem) =>
        new(DiagnosticCode.DataInvalid, file, $"Data file '{file}': array '{name}' {problem}.");
}
