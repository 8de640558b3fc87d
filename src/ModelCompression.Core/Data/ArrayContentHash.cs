using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Data;

/// <summary>
/// The SHA-256 of named arrays, as lowercase hex: each array's name, element type, shape and bytes, in
/// the order of their names. It identifies a data file by content: the zip container (entry
/// timestamps, compression, order) does not count, so an .npz saved again with the same arrays keeps it.
/// </summary>
public static class ArrayContentHash
{
    public static string Of(IEnumerable<KeyValuePair<string, NdArray>> arrays)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, array) in arrays.OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            AppendString(hash, name);
            AppendString(hash, Npy.DtypeName(array.ElementType));
            AppendLength(hash, array.Rank);
            foreach (var dimension in array.Shape) AppendLength(hash, dimension);
            AppendLength(hash, array.Data.Length);
            hash.AppendData(array.Data);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // Length-prefixed, so that ("ab", "c") and ("a", "bc") never hash alike.
    internal static void AppendString(IncrementalHash hash, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        AppendLength(hash, bytes.Length);
        hash.AppendData(bytes);
    }

    internal static void AppendLength(IncrementalHash hash, long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        hash.AppendData(bytes);
    }
}
