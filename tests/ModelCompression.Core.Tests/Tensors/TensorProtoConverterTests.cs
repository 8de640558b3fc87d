using Google.Protobuf;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Tests.Tensors;

public class TensorProtoConverterTests
{
    [Fact]
    public void Typed_and_raw_storage_give_the_same_array()
    {
        var typed = new TensorProto { Name = "t", DataType = (int)DataType.Float, Dims = { 2, 2 }, FloatData = { 1f, -2f, 3.5f, 0f } };
        var raw = TensorProtoConverter.ToTensorProto(TensorProtoConverter.ToNdArray(typed), "t");

        Assert.True(typed.RawData.IsEmpty);
        Assert.False(raw.RawData.IsEmpty);
        Assert.Equal(new[] { 1f, -2f, 3.5f, 0f }, TensorProtoConverter.ToNdArray(raw).ToFloats());
    }

    [Theory]
    [InlineData(DataType.Int8, new[] { -3, 0, 7 }, new[] { -3f, 0f, 7f })]
    [InlineData(DataType.Uint8, new[] { 0, 200, 255 }, new[] { 0f, 200f, 255f })]
    [InlineData(DataType.Bool, new[] { 1, 0, 1 }, new[] { 1f, 0f, 1f })]
    [InlineData(DataType.Int32, new[] { -70000, 5, 9 }, new[] { -70000f, 5f, 9f })]
    public void Small_types_widened_in_int32_data_are_narrowed(DataType type, int[] stored, float[] expected)
    {
        var tensor = new TensorProto { DataType = (int)type, Dims = { stored.Length } };
        tensor.Int32Data.AddRange(stored);

        Assert.Equal(expected, TensorProtoConverter.ToNdArray(tensor).ToFloats());
    }

    [Fact]
    public void Float16_bit_patterns_in_int32_data_decode()
    {
        var tensor = new TensorProto { DataType = (int)DataType.Float16, Dims = { 2 } };
        tensor.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)1.5f));
        tensor.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)(-0.25f)));

        Assert.Equal(new[] { 1.5f, -0.25f }, TensorProtoConverter.ToNdArray(tensor).ToFloats());
    }

    [Fact]
    public void Strings_round_trip()
    {
        var array = new NdArray([2], ["héllo", ""]);
        var back = TensorProtoConverter.ToNdArray(TensorProtoConverter.ToTensorProto(array, "s"));

        Assert.Equal(array.Strings, back.Strings);
    }

    [Fact]
    public void Int64_doubles_and_uint64_typed_fields_decode()
    {
        var longs = new TensorProto { DataType = (int)DataType.Int64, Dims = { 2 }, Int64Data = { -5, 1L << 40 } };
        var doubles = new TensorProto { DataType = (int)DataType.Double, Dims = { 1 }, DoubleData = { 2.5 } };
        var unsigned = new TensorProto { DataType = (int)DataType.Uint32, Dims = { 1 }, Uint64Data = { 4000000000 } };

        Assert.Equal(new[] { -5L, 1L << 40 }, TensorProtoConverter.ToNdArray(longs).ToInt64s());
        Assert.Equal(new[] { 2.5f }, TensorProtoConverter.ToNdArray(doubles).ToFloats());
        Assert.Equal(new[] { 4000000000L }, TensorProtoConverter.ToNdArray(unsigned).ToInt64s());
    }

    [Fact]
    public void Raw_data_of_the_wrong_length_is_rejected()
    {
        var tensor = new TensorProto { DataType = (int)DataType.Float, Dims = { 3 }, RawData = ByteString.CopyFrom(new byte[8]) };

        Assert.Throws<ArgumentException>(() => TensorProtoConverter.ToNdArray(tensor));
    }
}
