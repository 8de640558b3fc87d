using Google.Protobuf;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph;

/// <summary>Reads the value of an ONNX <c>Constant</c> node in any of its attribute forms.</summary>
public static class ConstantNodes
{
    public static bool IsConstantNode(NodeProto node) => node.OpType == "Constant" && node.IsStandard();

    /// <summary>
    /// The node's value as a tensor named after its output: <c>value</c> (a tensor), <c>value_float</c>,
    /// <c>value_floats</c>, <c>value_int</c>, <c>value_ints</c>, <c>value_string</c>, <c>value_strings</c>.
    /// Null for <c>sparse_value</c> (no dense form without expanding it) or a malformed node.
    /// </summary>
    public static TensorProto? ValueOf(NodeProto node)
    {
        if (!IsConstantNode(node) || node.Output.Count != 1 || node.Attribute.Count != 1) return null;
        var attribute = node.Attribute[0];
        var tensor = attribute.Name switch
        {
            "value" when attribute.T is not null => attribute.T.Clone(),
            "value_float" => new TensorProto { DataType = (int)DataType.Float, FloatData = { attribute.F } },
            "value_floats" => new TensorProto { DataType = (int)DataType.Float, Dims = { attribute.Floats.Count }, FloatData = { attribute.Floats } },
            "value_int" => new TensorProto { DataType = (int)DataType.Int64, Int64Data = { attribute.I } },
            "value_ints" => new TensorProto { DataType = (int)DataType.Int64, Dims = { attribute.Ints.Count }, Int64Data = { attribute.Ints } },
            "value_string" => new TensorProto { DataType = (int)DataType.String, StringData = { attribute.S } },
            "value_strings" => Strings(attribute.Strings),
            _ => null,
        };
        if (tensor is not null) tensor.Name = node.Output[0];
        return tensor;
    }

    private static TensorProto Strings(IReadOnlyCollection<ByteString> values)
    {
        var tensor = new TensorProto { DataType = (int)DataType.String, Dims = { values.Count } };
        tensor.StringData.AddRange(values);
        return tensor;
    }
}
