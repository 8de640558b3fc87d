using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.Core.Tests.Passes.Palettization;

public class BitPlanesTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(2, 13)]
    [InlineData(3, 100)]
    [InlineData(5, 1)]
    [InlineData(7, 64)]
    [InlineData(8, 9)]
    public void Codes_round_trip_through_bit_planes(int bits, int count)
    {
        var random = new Random(bits * 100 + count);
        var codes = Enumerable.Range(0, count).Select(_ => random.Next(1 << bits)).ToArray();

        var packed = BitPlanes.Pack(codes, bits);

        Assert.Equal(bits * ((count + 7) / 8), packed.Length);
        Assert.Equal(codes, BitPlanes.Unpack(packed, bits, count));
    }

    [Fact]
    public void Plane_p_holds_bit_p_with_code_i_at_bit_i_mod_8()
    {
        // Codes 0..9 in 4 bits: plane 0 = odd codes, plane 3 = codes 8 and 9.
        var packed = BitPlanes.Pack(Enumerable.Range(0, 10).ToArray(), 4);

        Assert.Equal(new byte[] { 0b1010_1010, 0b10, 0b1100_1100, 0, 0b1111_0000, 0, 0, 0b11 }, packed);
    }

    [Fact]
    public void A_code_too_wide_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPlanes.Pack([4], 2));
}
