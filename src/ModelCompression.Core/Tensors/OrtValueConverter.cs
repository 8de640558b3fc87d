using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelCompression.Core.Tensors;

/// <summary>Copies <see cref="NdArray"/> values into and out of ONNX Runtime's <see cref="OrtValue"/>.</summary>
public static class OrtValueConverter
{
    /// <summary>A new ORT-owned tensor holding a copy of <paramref name="array"/>; the caller disposes it.</summary>
    public static OrtValue ToOrtValue(NdArray array)
    {
        var shape = array.Shape.ToArray();
        if (array.Strings is not null)
        {
            var strings = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, shape);
            for (var i = 0; i < array.Strings.Length; i++) strings.StringTensorSetElementAt(array.Strings[i].AsSpan(), i);
            return strings;
        }
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, (TensorElementType)(int)array.ElementType, shape);
        array.Data.CopyTo(value.GetTensorMutableRawData());
        return value;
    }

    /// <summary>A copy of a tensor value's contents.</summary>
    public static NdArray ToNdArray(OrtValue value)
    {
        if (!value.IsTensor) throw new NotSupportedException($"An ONNX Runtime value of type {value.OnnxType} is not a tensor.");
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        if (info.ElementDataType == TensorElementType.String)
        {
            var strings = new string[info.ElementCount];
            for (var i = 0; i < strings.Length; i++) strings[i] = value.GetStringElement(i);
            return new NdArray(shape, strings);
        }
        return new NdArray((DataType)(int)info.ElementDataType, shape, value.GetTensorMutableRawData().ToArray());
    }
}
