namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// n-bit codes stored as n bit planes: plane p holds bit p of every code, 8 codes per byte, code i at bit i mod 8 of
/// byte i / 8. One layout for every n (no code straddles a byte, nothing is wasted but the last byte's padding), and one
/// graph unpacks any n with integer Div/Mul/Sub, which every opset has (BitShift needs opset 11, BitwiseAnd 18).
/// </summary>
public static class BitPlanes
{
    public static long BytesPerPlane(long count) => (count + 7) / 8;

    /// <summary>The planes, plane p at bytes [p · <see cref="BytesPerPlane"/>, (p + 1) · <see cref="BytesPerPlane"/>).</summary>
    public static byte[] Pack(ReadOnlySpan<int> codes, int bits)
    {
        var plane = BytesPerPlane(codes.Length);
        var packed = new byte[bits * plane];
        for (var i = 0; i < codes.Length; i++)
        {
            if ((uint)codes[i] >= 1u << bits) throw new ArgumentOutOfRangeException(nameof(codes), codes[i], $"Code {i} does not fit in {bits} bits.");
            for (var p = 0; p < bits; p++)
                if ((codes[i] >> p & 1) != 0) packed[p * plane + i / 8] |= (byte)(1 << (i % 8));
        }
        return packed;
    }

    public static int[] Unpack(ReadOnlySpan<byte> packed, int bits, int count)
    {
        var plane = BytesPerPlane(count);
        if (packed.Length != bits * plane) throw new ArgumentException($"{bits} planes of {count} codes take {bits * plane} bytes, not {packed.Length}.", nameof(packed));
        var codes = new int[count];
        for (var i = 0; i < count; i++)
            for (var p = 0; p < bits; p++)
                codes[i] |= (packed[(int)(p * plane) + i / 8] >> (i % 8) & 1) << p;
        return codes;
    }
}
