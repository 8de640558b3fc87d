using Google.Protobuf;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Onnx;

/// <summary>Builds ONNX protobuf pieces (nodes, attributes, value infos) from plain .NET values.</summary>
public static class OnnxFactory
{
    public static NodeProto Node(string opType, IEnumerable<string> inputs, IEnumerable<string> outputs, string? name = null,
        string domain = "", params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = name ?? "", Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (attributeName, value) in attributes) node.Attribute.Add(Attribute(attributeName, value));
        return node;
    }

    /// <summary>
    /// An attribute whose type follows the value: int/long → INT, float → FLOAT, string → STRING,
    /// int[]/long[] → INTS, float[] → FLOATS, string[] → STRINGS, NdArray/TensorProto → TENSOR, GraphProto → GRAPH.
    /// </summary>
    public static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case double d: a.Type = AttributeProto.Types.AttributeType.Float; a.F = (float)d; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case int[] ints: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ints.Select(v => (long)v)); break;
            case long[] longs: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(longs); break;
            case float[] floats: a.Type = AttributeProto.Types.AttributeType.Floats; a.Floats.AddRange(floats); break;
            case string[] strings: a.Type = AttributeProto.Types.AttributeType.Strings; a.Strings.AddRange(strings.Select(ByteString.CopyFromUtf8)); break;
            case NdArray array: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = TensorProtoConverter.ToTensorProto(array, ""); break;
            case TensorProto tensor: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = tensor; break;
            case GraphProto graph: a.Type = AttributeProto.Types.AttributeType.Graph; a.G = graph; break;
            default: throw new ArgumentException($"Attribute '{name}': values of type {value.GetType()} are not supported.", nameof(value));
        }
        return a;
    }

    /// <summary>A tensor value info; each dimension is a long (fixed), a string (symbolic) or null (unknown).</summary>
    public static ValueInfoProto TensorValueInfo(string name, DataType elementType, params object?[]? dims)
    {
        var tensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType };
        if (dims is not null)
        {
            tensorType.Shape = new TensorShapeProto();
            foreach (var dim in dims)
                tensorType.Shape.Dim.Add(dim switch
                {
                    null => new TensorShapeProto.Types.Dimension(),
                    string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                    IConvertible number => new TensorShapeProto.Types.Dimension { DimValue = number.ToInt64(null) },
                    _ => throw new ArgumentException($"Dimension '{dim}' must be a number, a name or null.", nameof(dims)),
                });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensorType } };
    }
}
