using System.IO.Compression;
using System.Security.Cryptography;
using ModelCompression.Core.Data;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Distillation;

/// <summary>
/// The weights distillation trained, as the file committed beside the plan lock: an .npz (one float32 array per
/// initializer, deflated) whose bytes depend only on the arrays (entries sorted, fixed timestamps), named and
/// locked by its SHA-256, so that a locked rebuild applies exactly what was measured without training again.
/// </summary>
public sealed class TrainedWeights
{
    private TrainedWeights(IReadOnlyDictionary<string, NdArray> arrays, byte[] bytes)
    {
        Arrays = arrays;
        Bytes = bytes;
        Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    public IReadOnlyDictionary<string, NdArray> Arrays { get; }

    /// <summary>The file's content.</summary>
    public byte[] Bytes { get; }

    public string Sha256 { get; }

    /// <summary>The file's name beside the lock: the model's name and the start of the content hash.</summary>
    public string FileName(string modelName) => $"{modelName}.distilled.{Sha256[..12]}.npz";

    /// <summary>Serializes <paramref name="arrays"/> (float32) deterministically; they pass through the file form, so what is measured is what rebuilds.</summary>
    public static TrainedWeights Of(IReadOnlyDictionary<string, NdArray> arrays)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, array) in arrays.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                if (array.ElementType != DataType.Float) throw new ArgumentException($"Trained weight '{name}' is {ElementTypes.Name(array.ElementType)}, not float32.", nameof(arrays));
                var entry = zip.CreateEntry(name + NpzArchive.Extension, CompressionLevel.Optimal);
                entry.LastWriteTime = FixedTime;
                using var stream = entry.Open();
                Npy.Write(stream, array);
            }
        }
        return Parse(buffer.ToArray(), "the trained weights");
    }

    /// <summary>Reads a weights file; null when it is missing or its content is not <paramref name="sha256"/> (the lock is then stale).</summary>
    /// <exception cref="InvalidDataException">The content matches but does not parse (a lock that names a file this tool did not write).</exception>
    public static TrainedWeights? Read(string path, string sha256)
    {
        if (!File.Exists(path)) return null;
        var bytes = File.ReadAllBytes(path);
        var weights = Convert.ToHexStringLower(SHA256.HashData(bytes)) == sha256 ? Parse(bytes, path) : null;
        return weights;
    }

    /// <summary>Whether <paramref name="path"/> exists with content <paramref name="sha256"/> (without parsing it).</summary>
    public static bool Matches(string path, string sha256) =>
        File.Exists(path) && Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))) == sha256;

    private static TrainedWeights Parse(byte[] bytes, string file)
    {
        var arrays = new Dictionary<string, NdArray>(StringComparer.Ordinal);
        try
        {
            using var zip = new ZipArchive(new MemoryStream(bytes, writable: false), ZipArchiveMode.Read);
            foreach (var entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(NpzArchive.Extension, StringComparison.Ordinal)) throw new InvalidDataException($"'{entry.FullName}' is not an .npy array");
                var name = entry.FullName[..^NpzArchive.Extension.Length];
                using var stream = entry.Open();
                var array = Npy.Read(stream, file, name, entry.Length);
                if (array.ElementType != DataType.Float) throw new InvalidDataException($"'{name}' is {ElementTypes.Name(array.ElementType)}, not float32");
                if (!arrays.TryAdd(name, array)) throw new InvalidDataException($"'{name}' appears twice");
            }
        }
        catch (Exception e) when (e is InvalidDataException or Diagnostics.CompressionException)
        {
            throw new InvalidDataException($"{file} is not a trained weights file this tool wrote: {e.Message}", e);
        }
        return new TrainedWeights(arrays, bytes);
    }

    private static readonly DateTimeOffset FixedTime = new(1980, 1, 1, 0, 0, 0, TimeSpan.Zero);
}
