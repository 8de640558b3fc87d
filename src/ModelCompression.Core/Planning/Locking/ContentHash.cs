using System.Security.Cryptography;
using Google.Protobuf;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// SHA-256 fingerprints of what a plan is made from, as lowercase hex. Each hashes content, never
/// file metadata, so that a copy, a fresh clone or an .npz saved again with the same arrays keeps
/// its fingerprint.
/// </summary>
public static class ContentHash
{
    /// <summary>The SHA-256 of a file's bytes (e.g. the compressed model written, to prove a re-application byte-identical).</summary>
    public static string OfFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// The SHA-256 of a model file's bytes and, when its tensors keep their data in external files,
    /// of those files too (a model whose weights change in its side file has changed).
    /// </summary>
    public static string OfModelFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(bytes);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var location in ExternalLocations(bytes))
        {
            var file = Path.Combine(directory, location);
            if (!File.Exists(file)) continue; // loading the model reports it (MC1004)
            ArrayContentHash.AppendString(hash, location);
            using var stream = File.OpenRead(file);
            ArrayContentHash.AppendLength(hash, stream.Length);
            AppendStream(hash, stream);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The <see cref="ArrayContentHash"/> of an .npz file's arrays (all read into memory at once).</summary>
    /// <param name="setting">The metadata that names the file, for its MC2001/MC2002 errors.</param>
    /// <exception cref="Diagnostics.CompressionException">MC2001 the file does not exist; MC2002 it cannot be read.</exception>
    public static string OfNpzContent(string path, DataSetting setting)
    {
        using var archive = NpzArchive.Open(path, setting);
        return ArrayContentHash.Of(archive.Names.Select(name => KeyValuePair.Create(name, archive.Read(name))).ToList());
    }

    /// <summary>The distinct external-data files a model's tensors name, sorted; none when the bytes are not a model.</summary>
    private static IEnumerable<string> ExternalLocations(byte[] bytes)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException)
        {
            return []; // loading the model reports it (MC1002)
        }
        return OnnxWalk.Tensors(model)
            .Where(ExternalData.IsExternal)
            .SelectMany(t => t.ExternalData.Where(e => e.Key == ExternalData.LocationKey).Select(e => e.Value))
            .Where(location => !string.IsNullOrEmpty(location))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    private static void AppendStream(IncrementalHash hash, Stream stream)
    {
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer.AsSpan(0, read));
    }
}
