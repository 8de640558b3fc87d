using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// The cache file of <see cref="LayerStatisticsCache"/>, little-endian:
/// <code>
/// "MCLS" · int32 version · 32-byte key · int32 samples · int32 layers
/// per layer: int32 name length · UTF-8 name · int32 dimension · int32 groups · int64 rows · groups·dimension² float32
/// 32-byte SHA-256 of all the bytes before it
/// </code>
/// Reading trusts nothing: every length is checked against the limits and the bytes left before anything is
/// allocated, and the trailing hash must match; any doubt makes <see cref="TryRead"/> return null.
/// </summary>
internal static class LayerStatisticsFile
{
    private static ReadOnlySpan<byte> Magic => "MCLS"u8;

    private const int HashBytes = 32;
    private const int MaxNameBytes = 1 << 16;

    public static void Write(string path, byte[] key, LayerInputStatistics statistics)
    {
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var writer = new HashingWriter(stream))
            {
                writer.Write(Magic);
                writer.WriteInt32(LayerStatisticsCache.FormatVersion);
                writer.Write(key);
                writer.WriteInt32(statistics.Samples);
                writer.WriteInt32(statistics.Count);
                foreach (var node in statistics.Nodes)
                {
                    var moments = statistics.For(node)!;
                    var name = Encoding.UTF8.GetBytes(node);
                    writer.WriteInt32(name.Length);
                    writer.Write(name);
                    writer.WriteInt32(moments.Dimension);
                    writer.WriteInt32(moments.Groups);
                    writer.WriteInt64(moments.Rows);
                    writer.Write(MemoryMarshal.AsBytes(moments.Matrix.AsSpan()));
                    writer.Write(MemoryMarshal.AsBytes((moments.Mean ?? new float[moments.Groups * moments.Dimension]).AsSpan()));
                }
                writer.WriteHash();
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>The statistics in <paramref name="path"/> when it is a sound file for <paramref name="key"/>, whose layers are among <paramref name="nodes"/>; else null.</summary>
    public static LayerInputStatistics? TryRead(string path, byte[] key, IReadOnlyCollection<string> nodes, int samples)
    {
        if (!BitConverter.IsLittleEndian) return null; // the floats are stored as this machine's bytes
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            using var reader = new HashingReader(stream);
            return Read(reader, key, nodes.ToHashSet(StringComparer.Ordinal), samples);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null;
        }
    }

    private static LayerInputStatistics? Read(HashingReader reader, byte[] key, HashSet<string> nodes, int samples)
    {
        if (!reader.Read(Magic.Length).SequenceEqual(Magic) || reader.ReadInt32() != LayerStatisticsCache.FormatVersion) return null;
        if (!reader.Read(key.Length).SequenceEqual(key) || reader.ReadInt32() != samples) return null;
        var count = reader.ReadInt32();
        if (count < 0 || count > nodes.Count) return null;
        var moments = new Dictionary<string, InputMoments>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var nameLength = reader.ReadInt32();
            if (nameLength is < 0 or > MaxNameBytes || nameLength > reader.Remaining) return null;
            var name = Encoding.UTF8.GetString(reader.Read(nameLength));
            var dimension = reader.ReadInt32();
            var groups = reader.ReadInt32();
            var rows = reader.ReadInt64();
            if (!nodes.Contains(name) || moments.ContainsKey(name)) return null;
            if (dimension is < 1 or > LayerStatisticsCollector.MaxDimension || groups < 1 || rows < 1) return null;
            var bytes = 4L * groups * dimension * dimension;
            if (bytes > reader.Remaining - HashBytes || bytes / 4 > Array.MaxLength) return null;
            var matrix = new float[bytes / 4];
            reader.ReadInto(MemoryMarshal.AsBytes(matrix.AsSpan()));
            var meanBytes = 4L * groups * dimension;
            if (meanBytes > reader.Remaining - HashBytes) return null;
            var mean = new float[meanBytes / 4];
            reader.ReadInto(MemoryMarshal.AsBytes(mean.AsSpan()));
            moments[name] = new InputMoments(dimension, groups, rows, matrix) { Mean = mean };
        }
        if (reader.Remaining != HashBytes || !reader.HashMatches()) return null;
        return new LayerInputStatistics(moments, samples, fromCache: true);
    }

    /// <summary>Writes through a SHA-256 of everything written, which <see cref="WriteHash"/> appends.</summary>
    private sealed class HashingWriter(Stream stream) : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public void Write(ReadOnlySpan<byte> bytes)
        {
            _hash.AppendData(bytes);
            stream.Write(bytes);
        }

        public void WriteInt32(int value)
        {
            Span<byte> bytes = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
            Write(bytes);
        }

        public void WriteInt64(long value)
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
            Write(bytes);
        }

        public void WriteHash()
        {
            stream.Write(_hash.GetHashAndReset());
            stream.Flush();
        }

        public void Dispose() => _hash.Dispose();
    }

    /// <summary>Reads exact byte counts (a short file is <see cref="InvalidDataException"/>) and hashes them.</summary>
    private sealed class HashingReader(Stream stream) : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public long Remaining => stream.Length - stream.Position;

        public byte[] Read(int count)
        {
            if (count > Remaining) throw new InvalidDataException("The file ends early.");
            var bytes = new byte[count];
            ReadInto(bytes);
            return bytes;
        }

        public void ReadInto(Span<byte> destination)
        {
            if (destination.Length > Remaining) throw new InvalidDataException("The file ends early.");
            stream.ReadExactly(destination);
            _hash.AppendData(destination);
        }

        public int ReadInt32() => BinaryPrimitives.ReadInt32LittleEndian(Read(4));

        public long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Read(8));

        /// <summary>Whether the rest of the file is the hash of everything read.</summary>
        public bool HashMatches()
        {
            var expected = _hash.GetHashAndReset();
            var stored = new byte[HashBytes];
            stream.ReadExactly(stored);
            return CryptographicOperations.FixedTimeEquals(expected, stored);
        }

        public void Dispose() => _hash.Dispose();
    }
}
