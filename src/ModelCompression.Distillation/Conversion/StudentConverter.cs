using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion;

/// <summary>A converted student, or why the model cannot be one.</summary>
public sealed record StudentConversion(OnnxStudent? Student, string? Refusal)
{
    public bool Converted => Student is not null;
}

/// <summary>
/// Turns an ONNX model into a trainable TorchSharp <see cref="OnnxStudent"/>, or refuses it naming the operators and
/// constructs it does not cover.
/// </summary>
/// <remarks>
/// Cost grows linearly with the model: one pass over the nodes to check coverage, one topological sort (linear in nodes
/// and edges), and every initializer and Constant value copied once into a tensor (memory: one extra copy of the
/// weights, held by the student until it is disposed). <see cref="OnnxStudent.Forward"/> then costs one dictionary
/// lookup per node input on top of the tensor arithmetic itself; weights are never copied again.
/// </remarks>
public static class StudentConverter
{
    /// <summary>
    /// Converts the main graph of <paramref name="model"/>; <paramref name="trainedWeights"/> (initializers or Constant
    /// outputs, float32) become parameters. Never throws for a model it does not cover: that is a refusal such as
    /// "operators not covered: LSTM, If".
    /// </summary>
    /// <exception cref="ArgumentException">A trained weight names no initializer or Constant of the graph.</exception>
    /// <exception cref="InvalidOperationException">The graph has a cycle.</exception>
    /// <exception cref="InvalidDataException">A node reads a value nothing defines.</exception>
    public static StudentConversion TryConvert(ModelProto model, IReadOnlyCollection<string> trainedWeights)
    {
        ArgumentNullException.ThrowIfNull(model.Graph, nameof(model));
        var view = new ModelView(model);
        var graph = view.Main;
        var opset = view.OpsetVersion();

        if (Refusal(view, opset, trainedWeights) is { } refusal) return new StudentConversion(null, refusal);

        var order = graph.TopologicalOrder();
        CheckEveryInputIsDefined(graph, order);
        var steps = order.Where(n => !ConstantNodes.IsConstantNode(n))
            .Select(n => new OnnxStudent.Step(n, OperatorRegistry.Find(n)!))
            .ToList();

        TorchRuntime.EnsureLoaded();
        var constants = Constants(graph);
        var trained = new HashSet<string>(trainedWeights, StringComparer.Ordinal);
        var fixedValues = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var parameters = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        try
        {
            foreach (var (name, tensor) in constants)
            {
                var value = TensorValues.ToTensor(TensorProtoConverter.ToNdArray(tensor));
                if (trained.Contains(name)) parameters[name] = new Parameter(value, requires_grad: true);
                else fixedValues[name] = value;
            }
        }
        catch
        {
            // A weight that cannot be read (e.g. missing external data) must not leak the tensors made before it.
            foreach (var tensor in fixedValues.Values.Concat(parameters.Values)) tensor.Dispose();
            throw;
        }

        var initializerNames = new HashSet<string>(model.Graph.Initializer.Select(i => i.Name), StringComparer.Ordinal);
        var inputs = model.Graph.Input.Select(i => i.Name).Where(n => !initializerNames.Contains(n)).ToList();
        var outputs = model.Graph.Output.Select(o => o.Name).ToList();
        return new StudentConversion(new OnnxStudent(steps, opset, fixedValues, parameters, inputs, outputs), null);
    }

    // Operators first (what a reader most needs to know), then node forms and weights.
    // Subgraphs are walked too, so that a refused If or Loop also names what its bodies would need (e.g. LSTM).
    private static string? Refusal(ModelView view, int opset, IReadOnlyCollection<string> trainedWeights)
    {
        var graph = view.Main;
        var operators = new List<string>();
        var constructs = new List<string>();
        if (graph.Proto.SparseInitializer.Count > 0) constructs.Add("sparse initializers");
        foreach (var (node, owner) in view.Graphs().SelectMany(g => g.Nodes.Select(n => (n, g))))
        {
            if (ConstantNodes.IsConstantNode(node))
            {
                if (ConstantNodes.ValueOf(node) is not { } value) constructs.Add($"Constant '{node.Name}' without a dense value");
                else if (UnsupportedType(value) is { } type) constructs.Add($"Constant '{node.Name}' of type {type}");
                continue;
            }
            if (OperatorRegistry.Find(node) is not { } op)
            {
                var name = node.IsStandard() ? node.OpType : $"{node.Domain}.{node.OpType}";
                if (!operators.Contains(name)) operators.Add(name);
            }
            else if (op.Unsupported(node, opset, owner) is { } form && !constructs.Contains(form)) constructs.Add(form);
        }
        foreach (var initializer in graph.Proto.Initializer)
            if (UnsupportedType(initializer) is { } type) constructs.Add($"initializer '{initializer.Name}' of type {type}");
        foreach (var input in graph.Proto.Input)
        {
            if (input.Type?.TensorType is not { } tensorType)
                constructs.Add($"input '{input.Name}' that is not a tensor");
            else if (tensorType.ElemType != 0 && UnsupportedType(new TensorProto { DataType = tensorType.ElemType }) is { } type)
                constructs.Add($"input '{input.Name}' of type {type}");
        }

        var constants = Constants(graph);
        foreach (var name in trainedWeights)
        {
            if (!constants.TryGetValue(name, out var tensor))
                throw new ArgumentException($"The trained weight '{name}' is no initializer or Constant of the graph.", nameof(trainedWeights));
            if (tensor.DataType != (int)DataType.Float)
                constructs.Add($"trained weight '{name}' of type {(DataType)tensor.DataType} (only float32 trains)");
        }

        var parts = new List<string>();
        if (operators.Count > 0) parts.Add("operators not covered: " + string.Join(", ", operators));
        if (constructs.Count > 0) parts.Add("constructs not covered: " + string.Join(", ", constructs));
        return parts.Count > 0 ? string.Join("; ", parts) : null;
    }

    private static string? UnsupportedType(TensorProto tensor) =>
        TensorValues.ScalarTypeOf((DataType)tensor.DataType) is null || tensor.DataType == (int)DataType.Bfloat16
            ? ((DataType)tensor.DataType).ToString()
            : null;

    /// <summary>The graph's fixed values by name: initializers and Constant node outputs.</summary>
    private static Dictionary<string, TensorProto> Constants(GraphView graph)
    {
        var constants = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var initializer in graph.Proto.Initializer) constants[initializer.Name] = initializer;
        foreach (var node in graph.Nodes)
            if (ConstantNodes.ValueOf(node) is { } value) constants[node.Output[0]] = value;
        return constants;
    }

    private static void CheckEveryInputIsDefined(GraphView graph, IEnumerable<NodeProto> order)
    {
        var defined = new HashSet<string>(graph.Proto.Input.Select(i => i.Name), StringComparer.Ordinal);
        defined.UnionWith(graph.Proto.Initializer.Select(i => i.Name));
        foreach (var node in order)
        {
            foreach (var input in node.Input)
                if (input.Length > 0 && !defined.Contains(input))
                    throw new InvalidDataException($"{node.OpType} node '{node.Name}' reads '{input}', which no input, initializer or earlier node defines.");
            defined.UnionWith(node.Output.Where(o => o.Length > 0));
        }
        foreach (var output in graph.Proto.Output)
            if (!defined.Contains(output.Name))
                throw new InvalidDataException($"The graph output '{output.Name}' is defined by nothing.");
    }
}
