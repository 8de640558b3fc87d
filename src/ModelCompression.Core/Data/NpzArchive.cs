using System.IO.Compression;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Data;

/// <summary>
/// An open .npz file: a zip archive of <c>&lt;name&gt;.npy</c> entries, stored (<c>np.savez</c>) or
/// deflated (<c>np.savez_compressed</c>), zip64 included. Only the zip directory is read on open;
/// each array is read (and decompressed) when asked for, straight into its final buffer.
/// </summary>
public sealed class NpzArchive : IDisposable
{
    public const string Extension = ".npy";
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _entries;

    private NpzArchive(string path, ZipArchive zip, Dictionary<string, ZipArchiveEntry> entries, IReadOnlyList<string> names)
    {
        Path = path;
        _zip = zip;
        _entries = entries;
        Names = names;
    }

    /// <summary>The file as the user named it (used in every error).</summary>
    public string Path { get; }

    /// <summary>The arrays' names (entry names without <c>.npy</c>), in archive order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Opens <paramref name="path"/>, given by the <paramref name="setting"/> metadata.</summary>
    /// <exception cref="CompressionException">MC2001 the file does not exist; MC2002 it is not an .npz of .npy arrays.</exception>
    public static NpzArchive Open(string path, DataSetting setting)
    {
        if (!File.Exists(path))
            throw new CompressionException(DiagnosticCode.DataNotFound, path,
                $"The {setting} file '{path}' does not exist. Check the {setting} metadata of the CompressedModel item (a path relative to the project).");
        FileStream? stream = null;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var zip = new ZipArchive(stream, ZipArchiveMode.Read);
            var entries = new Dictionary<string, ZipArchiveEntry>(StringComparer.Ordinal);
            var names = new List<string>();
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // a directory record holds no array
                if (!entry.FullName.EndsWith(Extension, StringComparison.Ordinal))
                    throw Invalid(path, $"holds the entry '{entry.FullName}', which is not an .npy array; an .npz holds only arrays (write it with np.savez or np.savez_compressed)");
                var name = entry.FullName[..^Extension.Length];
                if (!entries.TryAdd(name, entry))
                    throw Invalid(path, $"holds the array '{name}' twice; write it again with np.savez");
                names.Add(name);
            }
            return new NpzArchive(path, zip, entries, names);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            stream?.Dispose();
            throw Invalid(path, $"cannot be read as a zip archive ({e.Message}); an .npz is written by np.savez or np.savez_compressed", e);
        }
        catch
        {
            stream?.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _entries.ContainsKey(name);

    /// <summary>The element type and shape of array <paramref name="name"/>, without reading its data.</summary>
    /// <exception cref="CompressionException">MC2002 the entry is not a readable .npy array.</exception>
    public NpyHeader Header(string name) => ReadEntry(name, stream => Npy.ReadHeader(stream, Path, name));

    /// <summary>Reads array <paramref name="name"/> (decompressing it if needed).</summary>
    /// <exception cref="CompressionException">MC2002 the entry is not a readable .npy array.</exception>
    public NdArray Read(string name) => ReadEntry(name, stream => Npy.Read(stream, Path, name, _entries[name].Length));

    /// <summary>
    /// Writes <paramref name="arrays"/> as an .npz at <paramref name="path"/> in one piece (atomically),
    /// deflated like <c>np.savez_compressed</c> or stored like <c>np.savez</c>.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, NdArray>> arrays, bool compressed = true)
    {
        var level = compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression;
        AtomicFile.Write(path, stream =>
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true);
            foreach (var (name, array) in arrays)
            {
                using var entry = zip.CreateEntry(name + Extension, level).Open();
                Npy.Write(entry, array);
            }
        });
    }

    public void Dispose() => _zip.Dispose();

    private T ReadEntry<T>(string name, Func<Stream, T> read)
    {
        if (!_entries.TryGetValue(name, out var entry))
            throw new ArgumentException($"'{Path}' has no array '{name}'; check Contains first.", nameof(name));
        try
        {
            using var stream = entry.Open();
            return read(stream);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw Invalid(Path, $"has a damaged entry '{entry.FullName}' ({e.Message}); write the file again", e);
        }
    }

    private static CompressionException Invalid(string path, string problem, Exception? inner = null) =>
        new(DiagnosticCode.DataInvalid, path, $"Data file '{path}' {problem}.", inner);
}
