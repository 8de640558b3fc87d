using System.Buffers.Binary;
using System.Text;

namespace ModelCompression.Distillation.Native;

/// <summary>
/// Edits the symbol version needs (<c>.gnu.version_r</c>) of a 64-bit little-endian ELF shared library.
/// TorchSharp 0.107's native library asks libstdc++ for <c>GLIBCXX_3.4.32</c> (GCC 13) only through
/// <c>std::ios_base_library_init</c>, a symbol GCC 13's &lt;iostream&gt; references to pin that version and never
/// calls; marking the need weak lets the loader accept an older libstdc++ (GCC 12's, Debian 12 and Ubuntu 22.04).
/// </summary>
public static class ElfVersionNeeds
{
    private const uint SectionTypeVersionNeeds = 0x6ffffffe;
    private const ushort WeakFlag = 0x2;
    private static ReadOnlySpan<byte> Magic => [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    /// <summary>Marks the version need named <paramref name="version"/> weak; false when the file does not need it.</summary>
    /// <exception cref="InvalidDataException">Not a 64-bit little-endian ELF file, or its version needs are malformed.</exception>
    public static bool MarkWeak(Span<byte> elf, string version)
    {
        if (elf.Length < 64 || !elf[..4].SequenceEqual(Magic) || elf[4] != 2 || elf[5] != 1)
            throw new InvalidDataException("not a 64-bit little-endian ELF file");
        var sectionsAt = Offset(elf, 0x28, 0);
        var sectionSize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3a..]);
        var sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3c..]);
        var found = false;
        for (var i = 0; i < sectionCount; i++)
        {
            var header = elf.Slice(Checked(elf, sectionsAt + i * sectionSize, 64), 64);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != SectionTypeVersionNeeds) continue;
            var strings = elf.Slice(Checked(elf, sectionsAt + (int)BinaryPrimitives.ReadUInt32LittleEndian(header[40..]) * sectionSize, 64), 64);
            found |= MarkWeak(elf, Offset(header, 24, elf.Length), BinaryPrimitives.ReadUInt32LittleEndian(header[44..]), Offset(strings, 24, elf.Length), version);
        }
        return found;
    }

    /// <summary>Walks the needs (one per library) and their auxiliary entries (one per version).</summary>
    private static bool MarkWeak(Span<byte> elf, int needsAt, uint needCount, int stringsAt, string version)
    {
        var found = false;
        var need = needsAt;
        for (var n = 0; n < needCount; n++)
        {
            var entry = elf.Slice(Checked(elf, need, 16), 16);
            var auxCount = BinaryPrimitives.ReadUInt16LittleEndian(entry[2..]);
            var aux = Checked(elf, need + (int)BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]), 16);
            for (var a = 0; a < auxCount; a++)
            {
                var auxEntry = elf.Slice(Checked(elf, aux, 16), 16);
                if (NameAt(elf, stringsAt + (int)BinaryPrimitives.ReadUInt32LittleEndian(auxEntry[8..])) == version)
                {
                    var flags = BinaryPrimitives.ReadUInt16LittleEndian(auxEntry[4..]);
                    BinaryPrimitives.WriteUInt16LittleEndian(auxEntry[4..], (ushort)(flags | WeakFlag));
                    found = true;
                }
                aux += (int)BinaryPrimitives.ReadUInt32LittleEndian(auxEntry[12..]);
            }
            need += (int)BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
        }
        return found;
    }

    private static string NameAt(ReadOnlySpan<byte> elf, int at)
    {
        var start = Checked(elf, at, 1);
        var length = elf[start..].IndexOf((byte)0);
        if (length < 0) throw new InvalidDataException("a version name runs past the end of the file");
        return Encoding.ASCII.GetString(elf.Slice(start, length));
    }

    private static int Offset(ReadOnlySpan<byte> bytes, int at, int limit)
    {
        var value = BinaryPrimitives.ReadUInt64LittleEndian(bytes[at..]);
        if (value > int.MaxValue || (limit > 0 && value >= (ulong)limit)) throw new InvalidDataException($"offset {value} lies outside the file");
        return (int)value;
    }

    private static int Checked(ReadOnlySpan<byte> bytes, int at, int length) =>
        at >= 0 && at + length <= bytes.Length ? at : throw new InvalidDataException($"offset {at} lies outside the file");
}
