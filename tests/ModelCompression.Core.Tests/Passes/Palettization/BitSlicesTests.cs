using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.Core.Tests.Passes.Palettization;

public class BitSlicesTests
{
    [Theory]
    [InlineData(1, 8)]
    [InlineData(2, 13)]
    [InlineData(3, 100)]
    [InlineData(5, 1)]
    [InlineData(6, 37)]
    [InlineData(7, 64)]
    [InlineData(8, 9)]
    public void Codes_round_trip_through_their_slices_in_n_bits_each(int bits, int count)
    {
        var random = new Random(bits * 100 + count);
        var codes = Enumerable.Range(0, count).Select(_ => random.Next(1 << bits)).ToArray();

        var slices = BitSlices.Of(bits).Select(s => BitSlices.Pack(codes, bits, s)).ToList();

        Assert.Equal(codes, BitSlices.Unpack(slices, bits, count));
        Assert.Equal(BitSlices.Bytes(count, bits), slices.Sum(s => s.Length));
        Assert.InRange(BitSlices.Bytes(count, bits), count * bits / 8.0, count * bits / 8.0 + 3); // only padding is wasted
    }

    [Theory]
    [InlineData(8, new[] { 8 })]
    [InlineData(7, new[] { 4, 2, 1 })]
    [InlineData(6, new[] { 4, 2 })]
    [InlineData(5, new[] { 4, 1 })]
    [InlineData(3, new[] { 2, 1 })]
    [InlineData(1, new[] { 1 })]
    public void The_slices_are_the_binary_digits_of_n_lower_bits_first(int bits, int[] widths)
    {
        var slices = BitSlices.Of(bits);

        Assert.Equal(widths, slices.Select(s => s.Width));
        Assert.Equal(0, slices[0].Shift);
        for (var i = 1; i < slices.Count; i++) Assert.Equal(slices[i - 1].Shift + slices[i - 1].Width, slices[i].Shift);
    }

    [Fact]
    public void A_4_bit_slice_holds_two_codes_per_byte_the_first_in_the_low_nibble()
    {
        // 6-bit codes 0x2A (42) and 0x15 (21): low nibbles A and 5 in the 4-bit slice, high bits 2 and 1 in the 2-bit slice.
        int[] codes = [42, 21];

        Assert.Equal(new byte[] { 0x5A }, BitSlices.Pack(codes, 6, new BitSlices.Slice(4, 0)));
        Assert.Equal(new byte[] { 0b01_10 }, BitSlices.Pack(codes, 6, new BitSlices.Slice(2, 4)));
    }

    [Fact]
    public void A_code_too_wide_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BitSlices.Pack([4], 2, new BitSlices.Slice(2, 0)));
}
