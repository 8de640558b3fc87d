using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

namespace FashionClassifier;

/// <summary>Just enough of NumPy's .npz format for this sample: float32 and int64 arrays.</summary>
internal static partial class Npz
{
    public static Dictionary<string, Array> Read(string path)
    {
        var arrays = new Dictionary<string, Array>();
        using var zip = ZipFile.OpenRead(path);
        foreach (var entry in zip.Entries)
        {
            using var stream = new MemoryStream();
            using (var entryStream = entry.Open()) entryStream.CopyTo(stream);
            arrays[Path.GetFileNameWithoutExtension(entry.Name)] = ReadNpy(stream.ToArray());
        }
        return arrays;
    }

    private static Array ReadNpy(byte[] bytes)
    {
        // Magic (6 bytes), version (2), header length (2 bytes in v1, 4 in v2+), header text, data.
        var version = bytes[6];
        var headerLength = version == 1 ? BitConverter.ToUInt16(bytes, 8) : BitConverter.ToInt32(bytes, 8);
        var dataStart = (version == 1 ? 10 : 12) + headerLength;
        var header = Encoding.ASCII.GetString(bytes, dataStart - headerLength, headerLength);
        var data = bytes.AsSpan(dataStart);
        return DescrPattern().Match(header).Groups[1].Value switch
        {
            "<f4" => MemoryMarshal.Cast<byte, float>(data).ToArray(),
            "<i8" => MemoryMarshal.Cast<byte, long>(data).ToArray(),
            var other => throw new NotSupportedException($"dtype {other} is not used by this sample"),
        };
    }

    [GeneratedRegex("'descr':\\s*'([^']+)'")]
    private static partial Regex DescrPattern();
}
