using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Statistics;

/// <summary>
/// The shapes statistics are counted with: <see cref="ShapeInference"/> over a copy of the model whose inputs take
/// the sample's shapes (without a sample, a free axis 0 becomes the batch of 1) and whose small integer inputs take
/// the sample's values (settings such as a sample rate, which may choose an If branch), completed in rounds until
/// nothing new is learnt:
/// <list type="bullet">
/// <item>a <c>Shape</c> or <c>Size</c> of a value whose shape is known becomes a Constant, and constant folding
/// (<see cref="ConstantFolding"/>, evaluated by ONNX Runtime) turns the shape arithmetic exporters emit
/// (Gather, Concat, Cast...) into the constants Reshape, Pad, Expand and If conditions read;</item>
/// <item>operators the shared rules do not describe (ONNX Runtime's integer and contrib kernels, which the quantization
/// passes write, and the recurrent layers) and If nodes whose condition became constant get their outputs' types
/// written into the copy as value_info, which inference honours.</item>
/// </list>
/// Folding only happens when a shape or a setting was turned into a constant, so models without run-time shape
/// arithmetic never start ONNX Runtime here. The copy is for counting only: it is never returned to a caller as a model.
/// </summary>
internal static class CountingShapes
{
    public const string MicrosoftDomain = "com.microsoft";

    public static ShapeInference Infer(ModelProto model, IReadOnlyDictionary<string, NdArray>? sample)
    {
        var copy = model.Clone();
        var fold = Seed(copy.Graph, sample) > 0;
        var view = new ModelView(copy);
        var shapes = ShapeInference.Run(view);
        var rounds = view.Graphs().Sum(g => g.Nodes.Count) + 1; // each round resolves at least one more node, or stops
        for (var round = 0; round < rounds; round++)
        {
            var learnt = Complete(view, shapes);
            if (ShapesToConstants(view, shapes) > 0 || fold)
            {
                fold = false;
                new ConstantFolding().Apply(copy);
                view = new ModelView(copy); // folding edited the protobuf through its own view
                learnt++;
            }
            if (learnt == 0) break;
            shapes = ShapeInference.Run(view);
        }
        return shapes;
    }

    /// <summary>The branch an If takes when its condition is a constant (e.g. a comparison of folded shapes); null otherwise.</summary>
    public static GraphView? TakenBranch(GraphView graph, NodeProto node)
    {
        if (node.OpType != "If" || !node.IsStandard() || !graph.TryGetConstant(node.InputOrEmpty(0), out var condition)
            || condition.ElementCount != 1 || condition.ElementType != DataType.Bool)
            return null;
        var branch = node.Find(condition.AsSpan<bool>()[0] ? "then_branch" : "else_branch")?.G;
        return graph.Subgraphs(node).FirstOrDefault(b => ReferenceEquals(b.Proto, branch));
    }

    // Shape and Size of values with a fully known shape become Constant nodes; returns how many.
    private static int ShapesToConstants(ModelView view, ShapeInference shapes)
    {
        var replaced = 0;
        foreach (var graph in view.Graphs())
            foreach (var node in graph.Nodes.ToList())
            {
                if (!node.IsStandard() || node.OpType is not ("Shape" or "Size") || node.OutputOrEmpty(0).Length == 0) continue;
                if (shapes.TypeOf(graph, node.InputOrEmpty(0)).KnownShape is not { } shape) continue;
                NdArray value;
                if (node.OpType == "Size")
                {
                    value = NdArray.Create<long>([], [shape.Aggregate(1L, (a, d) => a * d)]);
                }
                else
                {
                    // Opset 15 start/end select a range of the axes (negative counts from the end, clamped).
                    long Clamp(long axis) => Math.Clamp(axis < 0 ? axis + shape.Length : axis, 0, shape.Length);
                    var start = (int)Clamp(node.GetInt("start", 0));
                    var end = (int)Clamp(node.GetInt("end", shape.Length));
                    var dims = shape[start..Math.Max(start, end)];
                    value = NdArray.Create<long>([dims.Length], dims);
                }
                graph.ReplaceNode(node, OnnxFactory.Node("Constant", [], [node.Output[0]], node.Name, attributes: ("value", value)));
                replaced++;
            }
        return replaced;
    }

    /// <summary>Integer and bool inputs of at most this many elements are settings (a sample rate, a step), seeded by value.</summary>
    public const int MaxSettingElements = 16;

    // The sample's shapes for the inputs it feeds, and the values of its settings (small integer or bool inputs, which
    // may decide If branches) as constants; without a sample, a free leading axis becomes 1. Returns the settings seeded.
    private static int Seed(GraphProto graph, IReadOnlyDictionary<string, NdArray>? sample)
    {
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var settings = 0;
        for (var i = graph.Input.Count - 1; i >= 0; i--)
        {
            var input = graph.Input[i];
            var type = (DataType)(input.Type?.TensorType?.ElemType ?? 0);
            if (sample is not null && sample.TryGetValue(input.Name, out var value))
            {
                if (value.ElementType is not (DataType.Float or DataType.Float16 or DataType.Double or DataType.Bfloat16 or DataType.String)
                    && value.ElementCount <= MaxSettingElements && !initializers.Contains(input.Name))
                {
                    graph.Input.RemoveAt(i);
                    graph.Initializer.Add(TensorProtoConverter.ToTensorProto(value, input.Name));
                    settings++;
                    continue;
                }
                graph.Input[i] = OnnxFactory.TensorValueInfo(input.Name, type == DataType.Undefined ? value.ElementType : type,
                    value.Shape.ToArray().Cast<object?>().ToArray());
            }
            else if (sample is null && !initializers.Contains(input.Name) && input.Type?.TensorType?.Shape is { Dim.Count: > 0 } shape && !shape.Dim[0].HasDimValue)
            {
                shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimValue = 1 };
            }
        }
        return settings;
    }

    // Declares what the extra rules learn about outputs inference left (partly) unknown; returns how many it declared.
    private static int Complete(ModelView view, ShapeInference shapes)
    {
        var declared = 0;
        foreach (var graph in view.Graphs())
            foreach (var node in graph.Nodes)
            {
                if (Rule(node, graph, shapes) is not { } types) continue;
                for (var i = 0; i < node.Output.Count && i < types.Count; i++)
                {
                    var name = node.Output[i];
                    if (name.Length == 0 || types[i].Dims is null) continue;
                    var current = shapes.TypeOf(graph, name);
                    if (KnownDims(types[i]) <= KnownDims(current)) continue;
                    var info = graph.Proto.ValueInfo.FirstOrDefault(v => v.Name == name);
                    if (info is not null) graph.Proto.ValueInfo.Remove(info);
                    graph.Proto.ValueInfo.Add(OnnxFactory.TensorValueInfo(name, types[i].ElementType,
                        types[i].Dims!.Select(d => d.Value is { } v ? v : (object?)d.Symbol).ToArray()));
                    declared++;
                }
            }
        return declared;
    }

    private static int KnownDims(TensorType type) => type.Dims is null ? -1 : type.Dims.Count(d => d.IsKnown);

    /// <summary>Output types of the operators <see cref="ShapeRules"/> has no rule for; null for the others.</summary>
    private static IReadOnlyList<TensorType>? Rule(NodeProto node, GraphView graph, ShapeInference shapes)
    {
        TensorType In(int index) => node.InputOrEmpty(index).Length > 0 ? shapes.TypeOf(graph, node.Input[index]) : TensorType.Unknown;
        DataType TypeOr(int index, DataType fallback) => In(index).ElementType is var t && t != DataType.Undefined ? t : fallback;
        if (node.Domain == MicrosoftDomain)
        {
            return node.OpType switch
            {
                "MatMulNBits" when In(0).Dims is { Count: > 0 } a =>
                    [new TensorType(In(0).ElementType, [.. a.Take(a.Count - 1), Dim.Of(node.GetInt("N", 0))])],
                "MatMulIntegerToFloat" or "DynamicQuantizeMatMul" => [ShapeRules.MatMul(In(0), In(1)).WithElementType(DataType.Float)],
                _ => null,
            };
        }
        if (!node.IsStandard()) return null;
        if (TakenBranch(graph, node) is { } taken)
            return taken.Proto.Output.Select(o => shapes.TypeOf(taken, o.Name)).ToList();
        return node.OpType switch
        {
            "MatMulInteger" => [ShapeRules.MatMul(In(0), In(1)).WithElementType(DataType.Int32)],
            "QLinearMatMul" => [ShapeRules.MatMul(In(0), In(3)).WithElementType(TypeOr(7, DataType.Uint8))],
            "ConvInteger" => [AsConv(node, graph, shapes, 0, 1).WithElementType(DataType.Int32)],
            "QLinearConv" => [AsConv(node, graph, shapes, 0, 3).WithElementType(TypeOr(7, DataType.Uint8))],
            "DynamicQuantizeLinear" => [In(0).WithElementType(DataType.Uint8), TensorType.Of(DataType.Float), TensorType.Of(DataType.Uint8)],
            "LSTM" or "GRU" or "RNN" => Recurrent(node, In(0)),
            _ => null,
        };
    }

    // An integer convolution's output has the shape of the float Conv over the same data and weight.
    private static TensorType AsConv(NodeProto node, GraphView graph, ShapeInference shapes, int data, int weight)
    {
        var conv = OnnxFactory.Node("Conv", [node.InputOrEmpty(data), node.InputOrEmpty(weight)], [""], node.Name);
        conv.Attribute.AddRange(node.Attribute);
        return ShapeRules.Infer(new NodeContext(conv, graph, shapes)) is [var type] ? type : TensorType.Unknown;
    }

    // Y [seq, directions, batch, hidden] and the final states [directions, batch, hidden]; layout 1 puts batch first.
    private static IReadOnlyList<TensorType>? Recurrent(NodeProto node, TensorType x)
    {
        var size = node.GetInt("hidden_size", 0);
        if (x.Dims is not { Count: 3 } dims || size <= 0) return null;
        var batchFirst = node.GetInt("layout", 0) == 1;
        var (seq, batch) = batchFirst ? (dims[1], dims[0]) : (dims[0], dims[1]);
        var directions = Dim.Of(node.GetString("direction", "forward") == "bidirectional" ? 2 : 1);
        var hidden = Dim.Of(size);
        var y = batchFirst ? new TensorType(x.ElementType, [batch, seq, directions, hidden]) : new TensorType(x.ElementType, [seq, directions, batch, hidden]);
        var state = batchFirst ? new TensorType(x.ElementType, [batch, directions, hidden]) : new TensorType(x.ElementType, [directions, batch, hidden]);
        return node.OpType == "LSTM" ? [y, state, state] : [y, state];
    }
}
