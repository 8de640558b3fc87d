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
    /// <exception cref="Diagnostics.CompressionException">MC1006 an external-data location leads outside the model's folder; MC1002/MC1004 one is malformed or missing.</exception>
    public static string OfModelFile(string path)
    {
        var bytes = File.ReadAllBytes(path);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(bytes);
        foreach (var (location, tensor) in ExternalLocations(bytes))
        {
            // The location as the model names it, the content from the file it resolves to inside the model's folder.
            var file = ExternalDataLocation.Resolve(path, tensor, location);
            ArrayContentHash.AppendString(hash, location);
            var length = new FileInfo(file).Length;
            ArrayContentHash.AppendLength(hash, length);
            if (length == 0) continue; // nothing to open (and opening a FIFO would block)
            using var stream = File.OpenRead(file);
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

    /// <summary>
    /// The distinct external-data locations a model's tensors name, sorted, each with the first tensor
    /// naming it (for errors); none when the bytes are not a model.
    /// </summary>
    private static IEnumerable<(string Location, string Tensor)> ExternalLocations(byte[] bytes)
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
            .SelectMany(t => t.ExternalData.Where(e => e.Key == ExternalData.LocationKey).Select(e => (Location: e.Value, Tensor: t.Name)))
            .Where(l => !string.IsNullOrEmpty(l.Location))
            .DistinctBy(l => l.Location, StringComparer.Ordinal)
            .OrderBy(l => l.Location, StringComparer.Ordinal)
            .ToList();
    }

    private static void AppendStream(IncrementalHash hash, Stream stream)
    {
        var buffer = new byte[1 << 16];
        int read;
        while ((read = stream.Read(buffer)) > 0) hash.AppendData(buffer.AsSpan(0, read));
    }
}
