using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Tests.Tensors;

public class NdArrayTests
{
    [Fact]
    public void Slice_keeps_the_rank_and_takes_whole_rows()
    {
        var array = NdArray.Create<float>([3, 2], [1, 2, 3, 4, 5, 6]);

        var rows = array.Slice(1, 2);

        Assert.Equal(new long[] { 2, 2 }, rows.Shape.ToArray());
        Assert.Equal(new[] { 3f, 4f, 5f, 6f }, rows.ToFloats());
    }

    [Fact]
    public void Reading_as_the_wrong_type_fails()
    {
        var array = NdArray.Create<long>([2], [1, 2]);

        Assert.Throws<InvalidOperationException>(() => array.AsSpan<float>().ToArray());
    }

    [Fact]
    public void Ort_values_round_trip_every_supported_type()
    {
        NdArray[] arrays =
        [
            NdArray.Create<float>([2], [1.5f, -2]),
            NdArray.Create<Half>([1], [(Half)0.5f]),
            NdArray.Create<long>([1, 2], [7, -9]),
            NdArray.Create<int>([1], [3]),
            NdArray.Create<byte>([3], [0, 128, 255]),
            NdArray.Create<bool>([2], [true, false]),
            new NdArray([2], ["a", "bc"]),
        ];
        foreach (var array in arrays)
        {
            using var value = OrtValueConverter.ToOrtValue(array);
            var back = OrtValueConverter.ToNdArray(value);
            Assert.Equal(array.ElementType, back.ElementType);
            Assert.Equal(array.Shape.ToArray(), back.Shape.ToArray());
            Assert.Equal(array.Data, back.Data);
            Assert.Equal(array.Strings, back.Strings);
        }
    }
}
