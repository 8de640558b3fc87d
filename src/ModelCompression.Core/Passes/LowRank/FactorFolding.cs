using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Static;

namespace ModelCompression.Core.Passes.LowRank;

/// <summary>
/// Puts a factored layer back together at session load: the two factors of <see cref="LowRankFactorization"/>
/// (<c>n/lowrank/a</c> then <c>n/lowrank/b</c>) become one layer <c>n</c> again, whose weight is the product of the
/// factors' weights, computed in the graph by ops that read only constants, so ONNX Runtime folds it into one
/// initializer when the session loads (constant folding, ORT_ENABLE_BASIC and above). The file keeps the small factors
/// in whatever form later steps stored them (plain, int8 Cast·Mul, palette expansion, fp16 Cast); the session runs one
/// kernel per layer instead of two, which is what a tiny model needs: there the second kernel call costs more than the
/// multiply-adds the factors save.
/// <list type="table">
/// <item><term>MatMul → MatMul</term><description>MatMul(X, MatMul(A, B))</description></item>
/// <item><term>MatMul or Gemm(transA) → Gemm(·, B, C)</term><description>Gemm(X, MatMul(A, B), C) with the first
/// factor's transA and the second's beta (and bias, as bias correction left it)</description></item>
/// <item><term>Conv(X, A [k, C, 1, 1]) → Conv(·, B [M, k, 1, 1], bias)</term><description>Conv(X, W, bias) with the
/// first factor's attributes (strides, pads, dilations, auto_pad), W = Transpose(MatMul(Transpose(B), Transpose(A)))
/// where the transposes move the unit spatial axes to the front and back: no shape constants are needed</description></item>
/// </list>
/// The folded layer keeps the original node name <c>n</c> and the second factor's output value; the product's nodes are
/// unnamed (ONNX Runtime folds them away at load). A pair is left factored, with the reason in <see cref="Skipped"/>, when a
/// factor's weight is not computed from constants only by ops ONNX Runtime folds (MatMulNBits' packed int4 replaced
/// the node; a DequantizeLinear weight, which ONNX Runtime keeps for its QDQ fusions), when the value between the
/// factors passes through other nodes (static int8's activation QuantizeLinear/DequantizeLinear) or is read elsewhere,
/// or when the nodes are not the forms <see cref="LowRankFactorization"/> writes. Run it as the last step of a plan:
/// a lossless constant folding after it would store the full weight.
/// </summary>
/// <remarks>
/// Measured on digits-mlp (3 Gemms, 64-128-64-10; ONNX Runtime 1.31, batch 1, one thread, medians of 7 interleaved
/// <see cref="Evaluation.LatencyMeter.Compare"/> runs of 2,000 against the original in one process, 2 shared cores), fc1
/// and fc2 at rank 12 with bias correction, original 69,606 bytes, 2.30 µs:
/// <list type="table">
/// <item><term>float factors</term><description>factored 22,842 bytes, 1.13× the original's latency (2.60 µs);
/// folded 22,774 bytes, 1.00× (2.30 µs); same accuracy (0.9741)</description></item>
/// <item><term>4-bit palettes on the factors</term><description>factored 10,303 bytes, 1.13–1.18×; folded 10,235 bytes,
/// 1.00×; same accuracy (0.9759)</description></item>
/// </list>
/// The file shrinks by 34 bytes per layer here (one layer node fewer, one unnamed MatMul and a weight name more; a Conv
/// adds three Transposes: the tests' Conv, Gemm and MatMul grow by 144 bytes together). Session creation
/// (ORT_ENABLE_ALL; original 0.50 ms): float factors 0.49–0.51 ms factored, 0.50–0.58 ms folded; palettes 1.41–1.49 ms
/// factored, 1.47–1.80 ms folded (two runs, medians of 21). Command: a console referencing this project that
/// applies the planner's steps (<see cref="Planning.PlanBuilder"/>) with and without a final "fold-factors" step.
/// </remarks>
public sealed class FactorFolding : IGraphPass
{
    public const string PassName = "fold-factors";

    private static readonly HashSet<string> NonDeterministic =
        ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"];

    private readonly IReadOnlySet<string>? _nodes;

    /// <param name="nodes">The original names of the factored layers to fold; null for every factored pair in the model.</param>
    public FactorFolding(IReadOnlySet<string>? nodes = null) => _nodes = nodes;

    public string Name => PassName;

    /// <summary>What the last <see cref="Apply"/> was asked to fold and left factored, and why.</summary>
    public IReadOnlyList<SkippedNode> Skipped { get; private set; } = [];

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var shapes = new Lazy<ShapeInference>(() => ShapeInference.Run(view));
        var skipped = new List<SkippedNode>();
        var folds = new List<Fold>();
        // Every fold is planned before any is made: the checks and shape inference see the model as it came in.
        foreach (var node in Requested(view))
        {
            if (Plan(view, node, shapes, out var problem) is { } fold) folds.Add(fold);
            else skipped.Add(new SkippedNode(node, problem!));
        }
        foreach (var fold in folds) fold.Apply(view.Names);
        Skipped = skipped;
        return folds.Count;
    }

    private IEnumerable<string> Requested(ModelView view)
    {
        if (_nodes is not null) return _nodes.Order(StringComparer.Ordinal);
        var suffix = LowRankFactorization.FirstFactorName("");
        return view.Graphs().SelectMany(g => g.Nodes).Select(n => n.Name)
            .Where(n => n.EndsWith(suffix, StringComparison.Ordinal) && n.Length > suffix.Length)
            .Select(n => n[..^suffix.Length]).Distinct().Order(StringComparer.Ordinal);
    }

    private static Fold? Plan(ModelView view, string node, Lazy<ShapeInference> shapes, out string? problem)
    {
        problem = null;
        var (firstName, secondName) = (LowRankFactorization.FirstFactorName(node), LowRankFactorization.SecondFactorName(node));
        var (graph, first, second) = FindPair(view, firstName, secondName);
        if (graph is null || first is null || second is null)
        {
            problem = $"the model has no factor nodes '{firstName}' and '{secondName}' in one graph (a 'lowrank' step before this one writes them)";
            return null;
        }
        if (view.Graphs().Any(g => g.Nodes.Any(n => n.Name == node)))
        {
            problem = $"another node is already named '{node}'";
            return null;
        }
        var between = first.OutputOrEmpty(0);
        if (second.InputOrEmpty(0) != between || graph.Consumers(between).Count != 1 || graph.IsGraphOutput(between))
        {
            problem = $"the value between the factors does not go straight from '{firstName}' to '{secondName}' alone " +
                      "(e.g. static int8's QuantizeLinear/DequantizeLinear around it): folding would drop what happens to it";
            return null;
        }
        problem = FormProblem(first, second);
        if (problem is not null) return null;
        foreach (var factor in new[] { first, second })
        {
            if (NotFoldable(graph, factor.InputOrEmpty(1), new HashSet<NodeProto>(ReferenceEqualityComparer.Instance)) is not { } why) continue;
            problem = $"the weight of '{factor.Name}' is not computed from constants by ops ONNX Runtime folds at load: {why}";
            return null;
        }
        var spatialAxes = 0;
        if (first.OpType == "Conv")
        {
            if (SpatialAxes(graph, first, second, shapes.Value, out problem) is not { } axes) return null;
            spatialAxes = axes;
        }
        return new Fold(graph, node, first, second, spatialAxes);
    }

    private static (GraphView? Graph, NodeProto? First, NodeProto? Second) FindPair(ModelView view, string firstName, string secondName)
    {
        foreach (var graph in view.Graphs())
        {
            var first = graph.Nodes.FirstOrDefault(n => n.Name == firstName);
            var second = graph.Nodes.FirstOrDefault(n => n.Name == secondName);
            if (first is not null && second is not null) return (graph, first, second);
        }
        return (null, null, null);
    }

    // Null when the two nodes are a pair LowRankFactorization writes (whatever later steps did to their weights and bias).
    private static string? FormProblem(NodeProto first, NodeProto second)
    {
        static bool Standard(NodeProto n, string opType) => n.IsStandard() && n.OpType == opType;
        static bool PlainGemm(NodeProto n) => n.GetInt("transB", 0) == 0 && n.GetFloat("alpha", 1f) == 1f;
        var form = (first.OpType, second.OpType) switch
        {
            ("MatMul", "MatMul") => Standard(first, "MatMul") && Standard(second, "MatMul"),
            ("MatMul" or "Gemm", "Gemm") => Standard(second, "Gemm") && PlainGemm(second) && second.GetInt("transA", 0) == 0
                && (Standard(first, "MatMul") || (Standard(first, "Gemm") && PlainGemm(first) && first.InputOrEmpty(2).Length == 0)),
            ("Conv", "Conv") => Standard(first, "Conv") && Standard(second, "Conv") && first.InputOrEmpty(2).Length == 0
                && first.GetInt("group", 1) == 1 && second.GetInt("group", 1) == 1
                && (second.GetInts("strides") ?? []).All(s => s == 1) && (second.GetInts("pads") ?? []).All(p => p == 0)
                && second.GetString("auto_pad", "NOTSET") is "NOTSET" or "VALID",
            _ => false,
        };
        return form ? null
            : $"the factors are {first.Domain}{(first.Domain.Length > 0 ? "." : "")}{first.OpType} → {second.Domain}{(second.Domain.Length > 0 ? "." : "")}{second.OpType}, " +
              "not a pair this pass folds (MatMul → MatMul, MatMul or Gemm → Gemm, bias-free Conv → 1×1 Conv as 'lowrank' writes them; e.g. int4 or dynamic int8 replaced a factor)";
    }

    // The number of spatial axes of the Conv factors' weights, whose spatial sizes must all be 1.
    private static int? SpatialAxes(GraphView graph, NodeProto first, NodeProto second, ShapeInference shapes, out string? problem)
    {
        problem = null;
        int? count = null;
        foreach (var factor in new[] { first, second })
        {
            var kernel = factor.GetInts("kernel_shape") ?? shapes.TypeOf(graph, factor.Input[1]).KnownShape?.Skip(2).ToArray();
            if (kernel is null)
            {
                problem = $"the kernel size of '{factor.Name}' is unknown (no kernel_shape, and its weight's shape is not inferred)";
                return null;
            }
            if (kernel.Any(k => k != 1) || (count is { } known && known != kernel.Length))
            {
                problem = $"'{factor.Name}' is not a 1×1 convolution like its partner (kernel [{string.Join(", ", kernel)}])";
                return null;
            }
            count = kernel.Length;
        }
        return count;
    }

    /// <summary>Null when <paramref name="value"/> (read in <paramref name="graph"/>) is computed from constants only, by ops ONNX Runtime folds; else why not.</summary>
    private static string? NotFoldable(GraphView graph, string value, HashSet<NodeProto> visited)
    {
        if (value.Length == 0) return "the weight input is empty";
        for (var g = graph; g is not null; g = g.Parent)
        {
            if (g.Initializer(value) is not null)
                return g.IsConstantInitializer(value) ? null : $"'{value}' is also a graph input, which a caller may override";
            if (g.Producer(value) is { } producer) return NotFoldable(g, producer, visited);
            if (g.IsGraphInput(value)) return $"'{value}' is a graph input";
        }
        return $"'{value}' is neither an initializer nor a node output (e.g. a sparse initializer)";
    }

    private static string? NotFoldable(GraphView graph, NodeProto node, HashSet<NodeProto> visited)
    {
        if (!visited.Add(node) || ConstantNodes.IsConstantNode(node)) return null; // a node seen before already passed
        var op = $"{node.OpType} '{node.Name}'";
        if (!node.IsStandard()) return $"{op} of domain '{node.Domain}' computes it";
        if (node.OpType == "DequantizeLinear") return $"{op} computes it, and ONNX Runtime keeps DequantizeLinear for its QDQ fusions instead of folding it";
        if (NonDeterministic.Contains(node.OpType)) return $"{op} is not deterministic";
        if (OnnxWalk.SubgraphsOf(node).Any()) return $"{op} holds a subgraph";
        if (node.Input.All(i => i.Length == 0)) return $"{op} has no inputs";
        foreach (var input in node.Input)
            if (input.Length > 0 && NotFoldable(graph, input, visited) is { } why) return why;
        return null;
    }

    /// <summary>One planned fold: the product of the factors' weights and the single layer reading it.</summary>
    private sealed record Fold(GraphView Graph, string Node, NodeProto First, NodeProto Second, int SpatialAxes)
    {
        public void Apply(UniqueNames names)
        {
            var weight = names.Next($"{Node}/lowrank/weight");
            var (a, b) = (First.Input[1], Second.Input[1]);
            var product = new List<NodeProto>();
            NodeProto layer;
            if (First.OpType == "Conv")
            {
                // [k, C, 1, 1] and [M, k, 1, 1] as [1, 1, k, C] and [1, 1, M, k]: their product [1, 1, M, C] back to [M, C, 1, 1].
                long[] front = [.. Enumerable.Range(2, SpatialAxes).Select(i => (long)i), 0, 1];
                long[] back = [SpatialAxes, SpatialAxes + 1, .. Enumerable.Range(0, SpatialAxes).Select(i => (long)i)];
                var (ta, tb, ba) = (names.Next($"{weight}/a"), names.Next($"{weight}/b"), names.Next($"{weight}/ba"));
                product.Add(OnnxFactory.Node("Transpose", [a], [ta], attributes: ("perm", front)));
                product.Add(OnnxFactory.Node("Transpose", [b], [tb], attributes: ("perm", front)));
                product.Add(OnnxFactory.Node("MatMul", [tb, ta], [ba]));
                product.Add(OnnxFactory.Node("Transpose", [ba], [weight], attributes: ("perm", back)));
                layer = OnnxFactory.Node("Conv", [First.Input[0], weight, .. Second.Input.Skip(2)], Second.Output, Node);
                layer.Attribute.AddRange(First.Attribute.Select(attribute => attribute.Clone())); // the sampling: strides, pads...
            }
            else
            {
                product.Add(OnnxFactory.Node("MatMul", [a, b], [weight]));
                layer = OnnxFactory.Node(Second.OpType, [First.Input[0], weight, .. Second.Input.Skip(2)], Second.Output, Node);
                layer.Attribute.AddRange(Second.Attribute.Select(attribute => attribute.Clone())); // Gemm's beta
                if (First.OpType == "Gemm" && First.GetInt("transA", 0) != 0) layer.SetAttribute("transA", 1L);
            }
            foreach (var node in product) Graph.InsertBefore(Second, node);
            Graph.ReplaceNode(Second, layer);
            Graph.RemoveNode(First);
            var between = First.Output[0];
            for (var i = Graph.Proto.ValueInfo.Count - 1; i >= 0; i--)
                if (Graph.Proto.ValueInfo[i].Name == between) Graph.Proto.ValueInfo.RemoveAt(i);
        }
    }
}
