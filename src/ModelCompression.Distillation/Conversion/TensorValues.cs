using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion;

/// <summary>Copies between <see cref="NdArray"/> (ONNX layout) and TorchSharp tensors, and maps ONNX element types.</summary>
public static class TensorValues
{
    /// <summary>A CPU tensor holding a copy of <paramref name="array"/>, with the matching element type.</summary>
    /// <exception cref="NotSupportedException">The element type has no TorchSharp counterpart (strings, unsigned 16-64 bit).</exception>
    public static Tensor ToTensor(NdArray array)
    {
        var shape = array.Shape.ToArray();
        return array.ElementType switch
        {
            DataType.Float => torch.tensor(array.AsSpan<float>().ToArray(), shape),
            DataType.Double => torch.tensor(array.AsSpan<double>().ToArray(), shape),
            DataType.Float16 => torch.tensor(array.ToFloats(), shape).to_type(ScalarType.Float16),
            DataType.Int64 => torch.tensor(array.AsSpan<long>().ToArray(), shape),
            DataType.Int32 => torch.tensor(array.AsSpan<int>().ToArray(), shape),
            DataType.Int16 => torch.tensor(array.AsSpan<short>().ToArray(), shape),
            DataType.Int8 => torch.tensor(array.AsSpan<sbyte>().ToArray(), shape),
            DataType.Uint8 => torch.tensor(array.AsSpan<byte>().ToArray(), shape),
            DataType.Bool => torch.tensor(array.AsSpan<bool>().ToArray(), shape),
            _ => throw new NotSupportedException($"Element type {ElementTypes.Name(array.ElementType)} has no TorchSharp tensor type."),
        };
    }

    /// <summary>A copy of a tensor's values (detached from autograd) in ONNX layout.</summary>
    public static NdArray ToNdArray(Tensor tensor)
    {
        using var contiguous = tensor.detach().cpu().contiguous();
        var shape = contiguous.shape;
        return contiguous.dtype switch
        {
            ScalarType.Float32 => NdArray.Create<float>(shape, contiguous.data<float>().ToArray()),
            ScalarType.Float64 => NdArray.Create<double>(shape, contiguous.data<double>().ToArray()),
            ScalarType.Int64 => NdArray.Create<long>(shape, contiguous.data<long>().ToArray()),
            ScalarType.Int32 => NdArray.Create<int>(shape, contiguous.data<int>().ToArray()),
            ScalarType.Int16 => NdArray.Create<short>(shape, contiguous.data<short>().ToArray()),
            ScalarType.Int8 => NdArray.Create<sbyte>(shape, contiguous.data<sbyte>().ToArray()),
            ScalarType.Byte => NdArray.Create<byte>(shape, contiguous.data<byte>().ToArray()),
            ScalarType.Bool => NdArray.Create<bool>(shape, contiguous.data<bool>().ToArray()),
            ScalarType.Float16 => NdArray.Create<Half>(shape, contiguous.data<Half>().ToArray()),
            _ => throw new NotSupportedException($"Tensor type {contiguous.dtype} has no ONNX counterpart here."),
        };
    }

    /// <summary>The integer values of a small tensor (shapes, axes, indices), as ONNX reads them.</summary>
    public static long[] ToLongs(Tensor tensor)
    {
        using var longs = tensor.detach().cpu().to_type(ScalarType.Int64).contiguous();
        return longs.data<long>().ToArray();
    }

    /// <summary>The TorchSharp type of an ONNX element type, or null when there is none.</summary>
    public static ScalarType? ScalarTypeOf(DataType type) => type switch
    {
        DataType.Float => ScalarType.Float32,
        DataType.Double => ScalarType.Float64,
        DataType.Float16 => ScalarType.Float16,
        DataType.Bfloat16 => ScalarType.BFloat16,
        DataType.Int64 => ScalarType.Int64,
        DataType.Int32 => ScalarType.Int32,
        DataType.Int16 => ScalarType.Int16,
        DataType.Int8 => ScalarType.Int8,
        DataType.Uint8 => ScalarType.Byte,
        DataType.Bool => ScalarType.Bool,
        _ => null,
    };
}
