namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// n-bit codes stored as bit slices: n written in binary (n = 8, or a sum of distinct 4, 2 and 1), one slice per term.
/// The slice of width w holds bits [shift, shift + w) of every code (lower bits in wider slices first), 8/w codes per byte,
/// code i in bits [w·(i mod 8/w), w·(i mod 8/w) + w) of byte i / (8/w). Nothing is wasted but the last byte's padding,
/// no code straddles a byte, and each slice unpacks with integer Div/Mul/Sub over N elements, which every opset has
/// (BitShift needs opset 11, BitwiseAnd 18): at most three slices, against n passes for bit planes.
/// </summary>
public static class BitSlices
{
    /// <summary>One slice: <see cref="Width"/> bits of each code, starting at bit <see cref="Shift"/>.</summary>
    public readonly record struct Slice(int Width, int Shift)
    {
        public int CodesPerByte => 8 / Width;

        public long Bytes(long count) => (count + CodesPerByte - 1) / CodesPerByte;
    }

    /// <summary>The slices of <paramref name="bits"/>-bit codes: 8 → [8]; 6 → [4 at 0, 2 at 4]; 7 → [4 at 0, 2 at 4, 1 at 6].</summary>
    public static IReadOnlyList<Slice> Of(int bits)
    {
        if (bits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Codes have 1 to 8 bits.");
        if (bits == 8) return [new Slice(8, 0)];
        var slices = new List<Slice>();
        var shift = 0;
        foreach (var width in new[] { 4, 2, 1 })
            if ((bits & width) != 0)
            {
                slices.Add(new Slice(width, shift));
                shift += width;
            }
        return slices;
    }

    /// <summary>The bytes of one slice of <paramref name="codes"/>.</summary>
    public static byte[] Pack(ReadOnlySpan<int> codes, int bits, Slice slice)
    {
        var packed = new byte[slice.Bytes(codes.Length)];
        var mask = (1 << slice.Width) - 1;
        for (var i = 0; i < codes.Length; i++)
        {
            if ((uint)codes[i] >= 1u << bits) throw new ArgumentOutOfRangeException(nameof(codes), codes[i], $"Code {i} does not fit in {bits} bits.");
            packed[i / slice.CodesPerByte] |= (byte)((codes[i] >> slice.Shift & mask) << (slice.Width * (i % slice.CodesPerByte)));
        }
        return packed;
    }

    /// <summary>The codes back from their slices (in the order of <see cref="Of"/>).</summary>
    public static int[] Unpack(IReadOnlyList<byte[]> slices, int bits, int count)
    {
        var codes = new int[count];
        var layout = Of(bits);
        for (var s = 0; s < layout.Count; s++)
        {
            var slice = layout[s];
            if (slices[s].Length != slice.Bytes(count)) throw new ArgumentException($"Slice {s} of {count} codes takes {slice.Bytes(count)} bytes, not {slices[s].Length}.", nameof(slices));
            for (var i = 0; i < count; i++)
                codes[i] |= (slices[s][i / slice.CodesPerByte] >> (slice.Width * (i % slice.CodesPerByte)) & ((1 << slice.Width) - 1)) << slice.Shift;
        }
        return codes;
    }

    /// <summary>Bytes that <paramref name="count"/> codes of <paramref name="bits"/> bits take.</summary>
    public static long Bytes(long count, int bits) => Of(bits).Sum(s => s.Bytes(count));
}
