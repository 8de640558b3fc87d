using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Statistics;

/// <summary>
/// One layer's share: its parameters and its FLOPs for one run of the layer (null when its shapes are unknown; a layer in
/// an If branch the run does not take still shows what it would cost).
/// </summary>
public sealed record LayerStatistics(string Node, string OpType, long Parameters, long? Flops);

/// <summary>
/// The size of a model in parameters and its cost in FLOPs (multiply-adds × 2) for one run at batch 1: the figures
/// reported beside file size, metric and latency, so that they read the same whatever form the weights take.
/// </summary>
/// <remarks>
/// <para><b>Parameters</b> are logical weight elements: every weight and bias a layer reads counts its elements once,
/// however it is stored (float, float16, int8 codes dequantized by DequantizeLinear or Cast·Mul, MatMulNBits' K·N
/// 4-bit codes, a palette lookup); the two factors of a low-rank layer both count; scales and zero points do not.
/// Float constants read by other operators count too (e.g. a decomposed LayerNorm's scale); integer constants
/// that are not weights (shapes, axes, indices) do not. Every graph counts, both branches of an If included: they
/// are all stored. (The shared models' README counts every float and integer tensor, shape constants included,
/// so it gives more for the Paddle and silero models.)</para>
/// <para><b>FLOPs</b> count the products of convolutions, matrix products and recurrent layers (see
/// <see cref="LayerFlops"/>); element-wise work is left out, and so is work on constants only, which ONNX Runtime does once at load. Shapes come from <see cref="ShapeInference"/> seeded
/// with the sample's input shapes (<see cref="CountingShapes"/>). An If counts only the branch it takes when its
/// condition follows from the sample's shapes and settings (silero-vad's sample rate), else its costlier branch
/// (a run takes one of them; which one depends on data). A Loop counts its body times a constant trip count (once when
/// the count is not a constant), a Scan its body times the scanned length when known. Layers whose shapes stay unknown
/// count nothing and are listed in <see cref="UnresolvedNodes"/>: the total is then a lower bound.</para>
/// </remarks>
public sealed record ModelStatistics(long Parameters, long Flops, IReadOnlyList<LayerStatistics> Layers, IReadOnlyList<string> UnresolvedNodes)
{
    /// <param name="model">The model; it is not changed.</param>
    /// <param name="sample">One batch-1 feed (input name → value), e.g. <c>SampleSet.Sample(0)</c>: its shapes fix the
    /// model's free dimensions. Without it a free leading input axis is taken as a batch of 1 and other free
    /// dimensions stay unknown.</param>
    public static ModelStatistics Of(ModelProto model, IReadOnlyDictionary<string, NdArray>? sample = null)
    {
        // Parameters on the model as it is (counting only reads it); FLOPs on the copy whose shapes were resolved,
        // where shape arithmetic was folded (folding would also turn some weight layouts into new constants).
        var stored = ShapeInference.Run(model);
        var (parameters, totalParameters) = ParameterCounter.Count(stored);
        var resolved = CountingShapes.Infer(model, sample);
        var resolvedGraphs = resolved.Model.Graphs(); // folding keeps every subgraph, in the same order
        var layers = new List<LayerStatistics>();
        var unresolved = new List<string>();
        var flops = GraphFlops(resolved.Model.Main, resolved, unresolved);
        foreach (var (graph, index) in stored.Model.Graphs().Select((g, i) => (g, i)))
            foreach (var node in graph.Nodes)
            {
                var counted = LayerFlops.Counts(node);
                var twin = counted ? resolvedGraphs[index].Producer(node.OutputOrEmpty(0)) : null;
                var layerFlops = twin is null ? null : LayerFlops.Of(twin, resolvedGraphs[index], resolved);
                if (counted || parameters.ContainsKey(node))
                    layers.Add(new LayerStatistics(node.Name, node.OpType, parameters.GetValueOrDefault(node), layerFlops));
            }
        return new ModelStatistics(totalParameters, flops, layers, unresolved);
    }

    // The FLOPs of one run of the graph; counted nodes whose shapes are unknown go to `unresolved`.
    private static long GraphFlops(GraphView graph, ShapeInference shapes, List<string> unresolved)
    {
        long total = 0;
        // Nodes that read only constants (a palette's expansion, folded low-rank factors) run once when ONNX
        // Runtime loads the model, not per run.
        var atLoad = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            if (graph.Subgraphs(node).Count == 0 && node.Input.All(i => i.Length == 0 || atLoad.Contains(i) || graph.IsConstantInitializer(i)))
            {
                atLoad.UnionWith(node.Output);
                continue;
            }
            var flops = LayerFlops.Of(node, graph, shapes);
            if (flops is null) unresolved.Add(node.Name);
            total += flops ?? 0;
            var bodies = graph.Subgraphs(node);
            if (bodies.Count == 0) continue;
            total += node.OpType switch
            {
                "If" => CountingShapes.TakenBranch(graph, node) is { } taken
                    ? GraphFlops(taken, shapes, unresolved)
                    : bodies.Max(b => GraphFlops(b, shapes, unresolved)),
                "Loop" => TripCount(graph, node) * bodies.Sum(b => GraphFlops(b, shapes, unresolved)),
                "Scan" => ScanLength(graph, node, shapes) * bodies.Sum(b => GraphFlops(b, shapes, unresolved)),
                _ => bodies.Sum(b => GraphFlops(b, shapes, unresolved)),
            };
        }
        return total;
    }

    private static long TripCount(GraphView graph, NodeProto loop) =>
        graph.TryGetConstant(loop.InputOrEmpty(0), out var count) && count.ElementCount == 1 && count.ElementType is DataType.Int64 or DataType.Int32
            ? Math.Max(0, count.ToInt64s()[0])
            : 1;

    // Scan (opset 9+): the last num_scan_inputs inputs are scanned along scan_input_axes (default 0); 1 when unknown.
    private static long ScanLength(GraphView graph, NodeProto scan, ShapeInference shapes)
    {
        var scanned = (int)scan.GetInt("num_scan_inputs", 0);
        if (scanned <= 0 || scanned > scan.Input.Count) return 1;
        var first = scan.Input[scan.Input.Count - scanned];
        var axis = scan.GetInts("scan_input_axes") is { Length: > 0 } axes ? axes[0] : 0;
        return shapes.TypeOf(graph, first).Dims is { } dims && (axis < 0 ? axis + dims.Count : axis) is var a && a >= 0 && a < dims.Count
            && dims[(int)a].Value is { } length
            ? length
            : 1;
    }
}
