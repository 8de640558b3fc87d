using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace ModelCompression.Testing;

/// <summary>Hand-made .npy and .npz bytes, for headers no numpy writes (malformed, huge, deeply nested).</summary>
public static class RawNpy
{
    /// <summary>A version 1.0 .npy with <paramref name="header"/> as given (plus its final '\n'), then <paramref name="data"/>.</summary>
    public static byte[] Bytes(string header, byte[] data)
    {
        var text = Encoding.Latin1.GetBytes(header + "\n");
        if (text.Length > ushort.MaxValue) throw new ArgumentException("A version 1.0 header holds at most 65,535 bytes.", nameof(header));
        var stream = new MemoryStream();
        stream.Write([0x93, .. "NUMPY"u8, 1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)text.Length);
        stream.Write(length);
        stream.Write(text);
        stream.Write(data);
        return stream.ToArray();
    }

    /// <summary>An .npz at <paramref name="path"/> whose entries hold the given bytes verbatim (stored, as np.savez writes them).</summary>
    public static void WriteNpz(string path, IEnumerable<KeyValuePair<string, byte[]>> entries)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, bytes) in entries)
        {
            using var stream = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
            stream.Write(bytes);
        }
    }

    /// <summary>The little-endian bytes of <paramref name="values"/>.</summary>
    public static byte[] DataOf<T>(params T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
