using Google.Protobuf;
using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.LowRank;

/// <summary>
/// Replaces a layer's weight W (m inputs × n outputs) by its truncated SVD, as two thinner layers: X·W ≈ (X·A)·B with
/// A = U_k·√S_k (m × k) and B = √S_k·V_kᵀ (k × n) (<see cref="WeightSpectrum.Factors"/>). It stores k·(m + n) values
/// instead of m·n and does as many multiply-adds fewer, so ranks with k·(m + n) ≥ m·n are refused (<see cref="Skipped"/>),
/// and so is a rank just under that bound when the second node and the new names would cost more bytes than the
/// factors save: the file never grows.
/// <list type="table">
/// <item><term>MatMul(X, W [K, N])</term><description>MatMul(X, A [K, k]) → MatMul(·, B [k, N]); X of any rank</description></item>
/// <item><term>Gemm(X, W, C)</term><description>MatMul(X, A) (a Gemm with transA = 1 when the original has it) →
/// Gemm(·, B, C) with the original beta; alpha is folded into the factors, transB into their layout</description></item>
/// <item><term>Conv 1×1, group 1</term><description>Conv(X, A as [k, C, 1, 1]) with the original strides, pads,
/// dilations and auto_pad → Conv(·, B as [M, k, 1, 1], bias). Exact for every stride and padding: each output position
/// is a product of one input position (or of padding zeros, which the bias-free first factor keeps zero) with W,
/// so the first factor can do the sampling and the second is a plain 1×1 on its grid</description></item>
/// </list>
/// <para>Names: the factors of node <c>n</c> are nodes <c>n/lowrank/a</c> (<see cref="FirstFactorName"/>) and
/// <c>n/lowrank/b</c> (<see cref="SecondFactorName"/>), with weights <c>n/lowrank/a/weight</c> and <c>n/lowrank/b/weight</c>
/// and the value between them <c>n/lowrank/a/output</c>. The second factor writes the original output value, so nothing
/// downstream changes, and later plan steps (int8, int4, palettization, bias correction) target the factors by these
/// names. (A name already taken in the model gets a suffix, <see cref="UniqueNames"/>; node names are unique after
/// <see cref="NodeNaming"/>, which the compressor runs first.)</para>
/// <para>Eligible (<see cref="EligibleNodes"/>): float weights that are initializers the node reads directly (so
/// low-rank comes before quantization in a plan), in any graph that can hold initializers, of at least 2 × 2 values.</para>
/// </summary>
public sealed class LowRankFactorization : IGraphPass
{
    private readonly IReadOnlyDictionary<string, int> _ranks;
    private readonly SpectrumCache _cache;
    private readonly Rounding _rounding;
    private readonly ILayerStatistics? _statistics;

    /// <param name="ranks">Node name → rank k of its factors (1 ≤ k ≤ <see cref="LowRankLayer.MaxUsefulRank"/>).</param>
    /// <param name="cache">Where spectra are kept between applications (default <see cref="SpectrumCache.Shared"/>).</param>
    /// <param name="rounding">With <see cref="Rounding.Hessian"/>, a layer with input moments in <paramref name="statistics"/>
    /// is factored for its output error (<see cref="WhitenedLowRank"/>); a layer without, by the plain SVD.</param>
    public LowRankFactorization(IReadOnlyDictionary<string, int> ranks, SpectrumCache? cache = null, Rounding rounding = Rounding.Nearest, ILayerStatistics? statistics = null)
    {
        foreach (var (node, rank) in ranks)
            if (rank < 1) throw new ArgumentOutOfRangeException(nameof(ranks), $"The rank of '{node}' is {rank}; ranks start at 1.");
        _ranks = ranks;
        _cache = cache ?? SpectrumCache.Shared;
        _rounding = rounding;
        _statistics = statistics;
    }

    public string Name => "lowrank";

    /// <summary>What the last <see cref="Apply"/> was asked to factor and left alone, and why.</summary>
    public IReadOnlyList<SkippedNode> Skipped { get; private set; } = [];

    /// <summary>For tests of the arithmetic only: factor at ranks that do not shrink the layer (up to min(m, n)).</summary>
    internal bool AllowsLargerFactors { get; init; }

    public static string FirstFactorName(string node) => $"{node}/lowrank/a";

    public static string SecondFactorName(string node) => $"{node}/lowrank/b";

    /// <summary>The largest k with k·(m + n) &lt; m·n; 0 when no rank shrinks an m × n weight.</summary>
    public static int MaxUsefulRank(int inputs, int outputs) =>
        inputs < 1 || outputs < 1 ? 0 : (int)(((long)inputs * outputs - 1) / (inputs + outputs));

    /// <summary>
    /// The smallest rank whose singular values keep at least <paramref name="energy"/> (0 &lt; energy ≤ 1) of the sum of
    /// all squared singular values, i.e. of the weight's squared Frobenius norm; at least 1. The relative error of the
    /// truncated weight is then at most √(1 − energy) in Frobenius norm.
    /// </summary>
    public static int RankForEnergy(IReadOnlyList<double> singularValues, double energy)
    {
        if (!(energy > 0 && energy <= 1)) throw new ArgumentOutOfRangeException(nameof(energy), energy, "The retained energy is a share in (0, 1].");
        var total = singularValues.Sum(s => s * s);
        double kept = 0;
        for (var k = 1; k <= singularValues.Count; k++)
        {
            kept += singularValues[k - 1] * singularValues[k - 1];
            if (kept >= energy * total) return k;
        }
        return Math.Max(1, singularValues.Count);
    }

    /// <summary>The layers of <paramref name="model"/> (subgraphs included) the pass can factor, in graph order.</summary>
    public static IReadOnlyList<LowRankLayer> EligibleNodes(ModelProto model) => Factorable.Find(new ModelView(model)).Select(f => f.Layer).ToList();

    /// <summary>
    /// The spectrum of every eligible layer, by node name: what the planner chooses ranks from (e.g.
    /// <c>spectrum.RankForEnergy(0.95)</c>). Each weight is decomposed once per <paramref name="cache"/>, and
    /// <see cref="Apply"/> finds the same decompositions there.
    /// </summary>
    public static IReadOnlyDictionary<string, WeightSpectrum> Spectra(ModelProto model, SpectrumCache? cache = null)
    {
        cache ??= SpectrumCache.Shared;
        return Factorable.Find(new ModelView(model)).ToDictionary(f => f.Layer.Node, f => f.Spectrum(cache), StringComparer.Ordinal);
    }

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var eligible = Factorable.Find(view).ToList();
        var skipped = _ranks.Keys.Where(n => eligible.All(f => f.Layer.Node != n)).Order(StringComparer.Ordinal)
            .Select(n => new SkippedNode(n, "it is not a layer this pass can factor: a MatMul or Gemm with a constant 2-D float weight, or a 1×1 Conv with group 1, whose weight is an initializer the node reads directly"))
            .ToList();
        var rewrites = 0;
        var moments = _rounding == Rounding.Hessian ? new LayerMoments(_statistics, view) : null;
        foreach (var layer in eligible)
        {
            if (!_ranks.TryGetValue(layer.Layer.Node, out var rank)) continue;
            if (Problem(layer.Layer, rank) is { } problem)
            {
                skipped.Add(new SkippedNode(layer.Layer.Node, problem));
                continue;
            }
            // Factored layers are always bias-corrected: the factors are fitted to the input covariance, not to its mean.
            var (first, second) = moments?.For([layer.Weight]) is { Hessians: [_] } && _statistics?.For(layer.Layer.Node) is { Groups: 1 } own && own.Dimension == layer.Layer.Inputs
                ? layer.WhitenedFactors(rank, InputHessian.Centred(own), _cache)
                : layer.Spectrum(_cache).Factors(rank);
            var rewrite = layer.Plan(view.Names, rank, first, second);
            if (!AllowsLargerFactors && rewrite.AddedBytes >= rewrite.RemovedBytes)
            {
                skipped.Add(new SkippedNode(layer.Layer.Node,
                    $"at rank {rank} the factors, their two nodes and names take {rewrite.AddedBytes} bytes against the layer's {rewrite.RemovedBytes}: the file would not shrink"));
                continue;
            }
            rewrite.Apply();
            rewrites++;
        }
        Skipped = skipped;
        return rewrites;
    }

    private string? Problem(LowRankLayer layer, int rank)
    {
        var (m, n) = (layer.Inputs, layer.Outputs);
        if (rank > Math.Min(m, n)) return $"rank {rank} exceeds the weight's rank limit min({m}, {n})";
        if (!AllowsLargerFactors && rank > layer.MaxUsefulRank)
            return $"rank {rank} would not shrink the layer: its factors hold {layer.FactoredParameters(rank)} values (k·(m + n)) against the weight's {layer.Parameters} (m·n); the largest useful rank is {layer.MaxUsefulRank}";
        return null;
    }

    /// <summary>An eligible layer: its weight slot, its matrix view, and how to rewrite it.</summary>
    private sealed record Factorable(QuantizableWeight Weight, LowRankLayer Layer)
    {
        private NodeProto Node => Weight.Node;

        public static IEnumerable<Factorable> Find(ModelView view)
        {
            var seen = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
            foreach (var weight in QuantizableWeight.Find(view))
            {
                if (weight.InputIndex != 1 || !weight.IsDirect || !weight.Graph!.CanAddInitializers || !seen.Add(weight.Node)) continue;
                if (MatrixShape(weight) is not var (m, n) || MaxUsefulRank(m, n) < 1 || Math.Min(m, n) < 2) continue;
                yield return new Factorable(weight, new LowRankLayer(weight.Node.Name, weight.Node.OpType, m, n));
            }
        }

        // The weight as inputs × outputs; null when the node is not one this pass rewrites.
        private static (int Inputs, int Outputs)? MatrixShape(QuantizableWeight weight)
        {
            var node = weight.Node;
            var dims = weight.Initializer.Dims;
            if (dims.Any(d => d > int.MaxValue)) return null;
            switch (node.OpType)
            {
                case "MatMul" when dims.Count == 2 && node.Input.Count == 2:
                    return ((int)dims[0], (int)dims[1]);
                case "Gemm" when dims.Count == 2:
                    return node.GetInt("transB", 0) == 0 ? ((int)dims[0], (int)dims[1]) : ((int)dims[1], (int)dims[0]);
                case "Conv" when dims.Count >= 3 && dims.Skip(2).All(d => d == 1) && node.GetInt("group", 1) == 1
                                 && (node.GetInts("kernel_shape") ?? []).All(k => k == 1):
                    return ((int)dims[1], (int)dims[0]);
                default:
                    return null;
            }
        }

        public WeightSpectrum Spectrum(SpectrumCache cache) => cache.Get(Matrix(), Layer.Inputs, Layer.Outputs);

        public (float[] First, float[] Second) WhitenedFactors(int rank, InputHessian hessian, SpectrumCache cache) =>
            WhitenedLowRank.Factors(Matrix(), Layer.Inputs, Layer.Outputs, rank, hessian, cache);

        // W row-major, inputs × outputs, with Gemm's alpha in it.
        private float[] Matrix()
        {
            var values = TensorProtoConverter.ToNdArray(Weight.Initializer).ToFloats();
            var (m, n) = (Layer.Inputs, Layer.Outputs);
            var stored = Node.OpType switch
            {
                "Gemm" when Node.GetInt("transB", 0) == 1 => MatrixLayout.Transposed(values, n, m), // B [N, K]
                "Conv" => MatrixLayout.Transposed(values, n, m),                                      // W [M, C, 1, 1]
                _ => values,
            };
            var alpha = Node.OpType == "Gemm" ? Node.GetFloat("alpha", 1f) : 1f;
            if (alpha != 1f)
                for (var i = 0; i < stored.Length; i++) stored[i] *= alpha;
            return stored;
        }

        /// <summary>The two factor nodes that take the node's place (the second writes the node's output), and their weights.</summary>
        public Rewrite Plan(UniqueNames names, int rank, float[] first, float[] second)
        {
            var (m, n) = (Layer.Inputs, Layer.Outputs);
            var baseName = Node.Name.Length > 0 ? Node.Name : Node.Output[0];
            var (firstNode, secondNode) = (names.Next(FirstFactorName(baseName)), names.Next(SecondFactorName(baseName)));
            var (firstWeight, secondWeight) = (names.Next($"{firstNode}/weight"), names.Next($"{secondNode}/weight"));
            var between = names.Next($"{firstNode}/output");
            var input = Node.Input[0];
            var output = Node.Output[0];
            NodeProto a, b;
            TensorProto wa, wb;
            switch (Node.OpType)
            {
                case "Conv":
                    var spatial = Enumerable.Repeat(1L, Weight.Initializer.Dims.Count - 2).ToArray();
                    wa = TensorProtoConverter.ToTensorProto(NdArray.Create<float>([rank, m, .. spatial], MatrixLayout.Transposed(first, m, rank)), firstWeight);
                    wb = TensorProtoConverter.ToTensorProto(NdArray.Create<float>([n, rank, .. spatial], MatrixLayout.Transposed(second, rank, n)), secondWeight);
                    a = OnnxFactory.Node("Conv", [input, firstWeight], [between], firstNode);
                    a.Attribute.AddRange(Node.Attribute.Select(attribute => attribute.Clone())); // the sampling: strides, pads...
                    b = OnnxFactory.Node("Conv", [between, secondWeight, .. Node.Input.Skip(2)], [output], secondNode);
                    if (Node.Has("kernel_shape")) b.Attribute.Add(OnnxFactory.Attribute("kernel_shape", spatial));
                    break;
                case "Gemm":
                    (wa, wb) = Matrices(m, n, rank, first, second, firstWeight, secondWeight);
                    a = Node.GetInt("transA", 0) == 0
                        ? OnnxFactory.Node("MatMul", [input, firstWeight], [between], firstNode)
                        : OnnxFactory.Node("Gemm", [input, firstWeight], [between], firstNode, attributes: ("transA", 1L));
                    b = OnnxFactory.Node("Gemm", [between, secondWeight, .. Node.Input.Skip(2)], [output], secondNode);
                    if (Node.Has("beta")) b.Attribute.Add(OnnxFactory.Attribute("beta", Node.GetFloat("beta", 1f)));
                    break;
                default:
                    (wa, wb) = Matrices(m, n, rank, first, second, firstWeight, secondWeight);
                    a = OnnxFactory.Node("MatMul", [input, firstWeight], [between], firstNode);
                    b = OnnxFactory.Node("MatMul", [between, secondWeight], [output], secondNode);
                    break;
            }
            return new Rewrite(this, a, b, wa, wb);
        }

        private (TensorProto, TensorProto) Matrices(int m, int n, int rank, float[] first, float[] second, string firstName, string secondName) =>
            (TensorProtoConverter.ToTensorProto(NdArray.Create<float>([m, rank], first), firstName),
             TensorProtoConverter.ToTensorProto(NdArray.Create<float>([rank, n], second), secondName));
    }

    /// <summary>A planned factorization: what it adds to the file, what it removes, and the edit itself.</summary>
    private sealed record Rewrite(Factorable Layer, NodeProto First, NodeProto Second, TensorProto FirstWeight, TensorProto SecondWeight)
    {
        // Each node or initializer costs its encoding plus a one-byte tag in the graph.
        private static long Encoded(IMessage message) => 1 + CodedOutputStream.ComputeMessageSize(message);

        public long AddedBytes => Encoded(First) + Encoded(Second) + Encoded(FirstWeight) + Encoded(SecondWeight);

        /// <summary>The node, and its weight unless another node reads it too.</summary>
        public long RemovedBytes
        {
            get
            {
                var weight = Layer.Weight;
                var shared = weight.Owner!.Consumers(weight.Initializer.Name).Any(u => !ReferenceEquals(u.Node, weight.Node));
                return Encoded(weight.Node) + (shared ? 0 : Encoded(weight.Initializer));
            }
        }

        public void Apply()
        {
            var (graph, node, weight) = (Layer.Weight.Graph!, Layer.Weight.Node, Layer.Weight);
            graph.AddInitializer(FirstWeight);
            graph.AddInitializer(SecondWeight);
            graph.InsertBefore(node, First);
            graph.ReplaceNode(node, Second);
            if (!weight.Owner!.IsUsed(weight.Initializer.Name)) weight.Owner.RemoveInitializer(weight.Initializer.Name);
        }
    }
}
