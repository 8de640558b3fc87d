using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Testing;

/// <summary>Builds small ONNX models in C# for tests: inputs, initializers, nodes, outputs.</summary>
public sealed class OnnxBuilder
{
    private readonly GraphProto _graph = new() { Name = "test" };
    private readonly int _opset;
    private readonly List<(string Domain, int Version)> _extraOpsets = [];

    public OnnxBuilder(int opset = 17) => _opset = opset;

    public OnnxBuilder Input(string name, DataType type, params object?[] dims)
    {
        _graph.Input.Add(OnnxFactory.TensorValueInfo(name, type, dims));
        return this;
    }

    public OnnxBuilder Output(string name, DataType type, params object?[] dims)
    {
        _graph.Output.Add(OnnxFactory.TensorValueInfo(name, type, dims));
        return this;
    }

    public OnnxBuilder Initializer(string name, NdArray value)
    {
        _graph.Initializer.Add(TensorProtoConverter.ToTensorProto(value, name));
        return this;
    }

    public OnnxBuilder Initializer(string name, float[] values, params long[] shape) =>
        Initializer(name, NdArray.Create<float>(shape, values));

    public OnnxBuilder Node(string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes) =>
        Node(opType, inputs, outputs, name: $"{opType}_{_graph.Node.Count}", attributes);

    public OnnxBuilder Node(string opType, string[] inputs, string[] outputs, string name, params (string Name, object Value)[] attributes)
    {
        _graph.Node.Add(OnnxFactory.Node(opType, inputs, outputs, name, attributes: attributes));
        return this;
    }

    /// <summary>Adds a node of another domain (e.g. com.microsoft) and imports that domain.</summary>
    public OnnxBuilder DomainNode(string domain, int version, string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        if (!_extraOpsets.Any(o => o.Domain == domain)) _extraOpsets.Add((domain, version));
        _graph.Node.Add(OnnxFactory.Node(opType, inputs, outputs, $"{opType}_{_graph.Node.Count}", domain, attributes));
        return this;
    }

    /// <summary>The graph built so far, e.g. as an If branch or Loop body.</summary>
    public GraphProto Graph() => _graph.Clone();

    public ModelProto Build()
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "ModelCompression.Testing", Graph = _graph.Clone() };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = _opset });
        foreach (var (domain, version) in _extraOpsets)
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        return model;
    }
}
