using System.IO.Compression;

namespace ModelCompression.Testing.Fuzzing;

/// <summary>
/// Mutates a zip archive as its reader sees it. Mostly one entry's content goes through the inner
/// mutator and the archive is written again (stored or deflated), so that the CRC still matches
/// and the mutation reaches the entry's parser instead of the zip reader; sometimes the entries
/// themselves change (renamed, duplicated, dropped); sometimes the archive's raw bytes, so that
/// the zip reader is attacked too.
/// </summary>
/// <param name="entryNames">Names an entry may be renamed to (the names the consumer looks for, and others).</param>
public sealed class ZipMutator(IMutator inner, IMutator raw, params string[] entryNames) : IMutator
{
    public byte[] Mutate(byte[] input, byte[] other, Random random)
    {
        var entries = Entries(input);
        var roll = random.Next(10);
        if (roll == 0 || entries.Count == 0) return raw.Mutate(input, other, random);
        var at = random.Next(entries.Count);
        if (roll < 8)
        {
            var partner = Entries(other) is { Count: > 0 } others ? others[random.Next(others.Count)].Content : other;
            entries[at] = entries[at] with { Content = inner.Mutate(entries[at].Content, partner, random) };
        }
        else
        {
            MutateEntries(entries, at, random);
        }
        return Write(entries, compressed: random.Next(2) == 0);
    }

    private void MutateEntries(List<ZipEntry> entries, int at, Random random)
    {
        switch (random.Next(3))
        {
            case 0 when entryNames.Length > 0: entries[at] = entries[at] with { Name = entryNames[random.Next(entryNames.Length)] }; break;
            case 1: entries.Insert(random.Next(entries.Count + 1), entries[at]); break;
            default: entries.RemoveAt(at); break;
        }
    }

    private sealed record ZipEntry(string Name, byte[] Content);

    // An input that is no readable archive (a raw mutation's result) has no entries to mutate.
    private static List<ZipEntry> Entries(byte[] archive)
    {
        try
        {
            using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
            return zip.Entries.Select(e =>
            {
                using var stream = e.Open();
                var content = new MemoryStream();
                stream.CopyTo(content);
                return new ZipEntry(e.FullName, content.ToArray());
            }).ToList();
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return [];
        }
    }

    private static byte[] Write(List<ZipEntry> entries, bool compressed)
    {
        var archive = new MemoryStream();
        using (var zip = new ZipArchive(archive, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var entry in entries)
            {
                using var stream = zip.CreateEntry(entry.Name, compressed ? CompressionLevel.Fastest : CompressionLevel.NoCompression).Open();
                stream.Write(entry.Content);
            }
        }
        return archive.ToArray();
    }
}
