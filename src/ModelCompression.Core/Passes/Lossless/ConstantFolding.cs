using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Replaces nodes whose inputs are all constants with initializers holding their outputs. The values come
/// from ONNX Runtime itself (a one-node model per fold), so every operator folds exactly as it would run.
/// Nodes are visited in topological order, so chains of constant nodes fold in one run.
/// </summary>
/// <remarks>
/// Never folded: non-deterministic operators; nodes holding subgraphs; nodes outside the default domain;
/// nodes without inputs; nodes whose output is a graph output; folds that would grow the file by more than
/// <see cref="GrowthAllowanceBytes"/> (e.g. ConstantOfShape, Expand or Tile making big tensors from small
/// ones); and, explicitly, a <c>DequantizeLinear</c> of a quantized constant (see <see cref="IsCompressedWeight"/>).
/// </remarks>
public sealed class ConstantFolding : IGraphPass
{
    /// <summary>
    /// How many bytes a fold may add to the model: the folded outputs minus the constant inputs the fold
    /// makes dead. Small enough that no fold undoes compression, large enough for shape arithmetic.
    /// </summary>
    public const long GrowthAllowanceBytes = 1024;

    private static readonly HashSet<string> NonDeterministic =
        ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"];

    private static readonly HashSet<DataType> QuantizedTypes =
    [
        DataType.Int8, DataType.Uint8, DataType.Int4, DataType.Uint4, DataType.Int16, DataType.Uint16, DataType.Int32,
        DataType.Float8E4M3Fn, DataType.Float8E4M3Fnuz, DataType.Float8E5M2, DataType.Float8E5M2Fnuz,
    ];

    public string Name => "fold-constants";

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var folded = 0;
        foreach (var graph in view.Graphs())
        {
            if (!graph.CanAddInitializers) continue;
            foreach (var node in graph.TopologicalOrder())
                if (IsFoldable(graph, node) && Evaluate(view, graph, node) is { } outputs && !GrowsModel(graph, node, outputs))
                {
                    graph.RemoveNode(node);
                    foreach (var output in outputs) graph.AddInitializer(output);
                    folded++;
                }
        }
        return folded;
    }

    /// <summary>
    /// A DequantizeLinear whose input is a constant of a quantized type (int8, uint8, int4...) is a
    /// compressed weight, not a constant expression: folding it would expand the weight back to float and
    /// undo the compression. Such nodes are never folded.
    /// </summary>
    public static bool IsCompressedWeight(GraphView graph, NodeProto node) =>
        node.OpType == "DequantizeLinear" && graph.ConstantTensor(node.InputOrEmpty(0)) is { } x
        && QuantizedTypes.Contains((DataType)x.DataType);

    private static bool IsFoldable(GraphView graph, NodeProto node)
    {
        if (!node.IsStandard() || ConstantNodes.IsConstantNode(node) || NonDeterministic.Contains(node.OpType)) return false;
        if (OnnxWalk.SubgraphsOf(node).Any() || IsCompressedWeight(graph, node)) return false;
        var inputs = node.Input.Where(i => i.Length > 0).ToList();
        if (inputs.Count == 0 || !inputs.All(graph.IsConstant)) return false;
        return node.Output.All(o => o.Length == 0 || !graph.IsGraphOutput(o));
    }

    /// <summary>Runs the node alone in ONNX Runtime; null when it cannot (unsupported operator or type, non-tensor output).</summary>
    private static List<TensorProto>? Evaluate(ModelView view, GraphView graph, NodeProto node)
    {
        var single = new ModelProto { IrVersion = view.Proto.IrVersion, Graph = new GraphProto { Name = "fold" } };
        single.OpsetImport.AddRange(view.Proto.OpsetImport);
        foreach (var input in node.Input.Where(i => i.Length > 0).Distinct())
        {
            var tensor = graph.ConstantTensor(input)!.Clone();
            tensor.Name = input;
            single.Graph.Initializer.Add(tensor);
        }
        single.Graph.Node.Add(node.Clone());
        var outputs = node.Output.Where(o => o.Length > 0).ToList();
        foreach (var output in outputs) single.Graph.Output.Add(new ValueInfoProto { Name = output });
        try
        {
            using var runner = new ModelRunner(single, $"the fold of node '{node.Name}'", GraphOptimizationLevel.ORT_DISABLE_ALL, intraOpThreads: 1);
            var values = runner.Run(new Dictionary<string, NdArray>(), outputs);
            return outputs.Select(o => TensorProtoConverter.ToTensorProto(values[o], o)).ToList();
        }
        catch (Exception e) when (e is CompressionException or OnnxRuntimeException or NotSupportedException or ArgumentException)
        {
            return null;
        }
    }

    private static bool GrowsModel(GraphView graph, NodeProto node, List<TensorProto> outputs)
    {
        long freed = 0;
        foreach (var input in node.Input.Where(i => i.Length > 0).Distinct())
        {
            var onlyThisNode = graph.Consumers(input).All(u => ReferenceEquals(u.Node, node));
            var local = graph.Initializer(input) is not null || graph.Producer(input) is not null;
            if (onlyThisNode && local) freed += graph.ConstantTensor(input)!.CalculateSize();
        }
        var added = outputs.Sum(t => (long)t.CalculateSize());
        return added - freed > GrowthAllowanceBytes;
    }
}
