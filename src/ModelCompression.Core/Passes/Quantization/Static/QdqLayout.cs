using ModelCompression.Core.Calibration;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization.Static;

/// <summary>A Conv/Gemm/MatMul the static pass quantizes: its weight (int8 per output channel), activation input and (Conv) bias.</summary>
internal sealed record QuantizedLayer(NodeProto Node, QuantizableWeight Weight, ChannelCodes Codes, string Input, string? Bias);

/// <summary>A weight's int8 codes and per-channel scales.</summary>
internal sealed record ChannelCodes(sbyte[] Codes, float[] Scales);

/// <summary>
/// Decides what the static pass rewrites, before anything is rewritten: the layers, the integer ops
/// between them, and every activation tensor that gets a QuantizeLinear→DequantizeLinear pair with
/// its grid. The layout follows what ONNX Runtime fuses at session load (see
/// <see cref="Int8StaticQuantization"/>): a layer's input and output pairs, the output taken after a
/// following Relu when the grid is asymmetric (ORT then drops the Relu, whose work the uint8 grid's
/// zero point does), and grids shared with the input for ops ORT runs on the input's integers as they are.
/// </summary>
internal sealed class QdqLayout
{
    private static readonly HashSet<string> LayerOps = ["Conv", "Gemm", "MatMul"];

    /// <summary>Ops that only move or select values: ORT drops the Q/DQ around them when both use the same grid.</summary>
    private static readonly HashSet<string> SameGridOps = ["MaxPool", "Flatten", "Reshape", "Transpose", "Squeeze", "Unsqueeze"];

    /// <summary>Ops ORT replaces by a QLinear kernel with its own output grid.</summary>
    private static readonly HashSet<string> OwnGridOps = ["Add", "Concat", "GlobalAveragePool", "AveragePool"];

    private readonly GraphView _graph;
    private readonly StaticQuantizationOptions _options;
    private readonly Func<string, QuantizationParameters?> _calibrated;
    private readonly Dictionary<string, string> _grid = new(StringComparer.Ordinal);          // value → the calibrated tensor whose grid it carries
    private readonly Dictionary<string, string> _gridOfQuantized = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, int), ChannelCodes> _codes = [];

    private QdqLayout(GraphView graph, StaticQuantizationOptions options, Func<string, QuantizationParameters?> calibrated)
    {
        _graph = graph;
        _options = options;
        _calibrated = calibrated;
    }

    public List<QuantizedLayer> Layers { get; } = [];

    public List<NodeProto> IntegerOps { get; } = [];

    /// <summary>The activation tensors that get a Q/DQ pair, in graph order, with their grids.</summary>
    public List<(string Tensor, QuantizationParameters Grid)> Quantized { get; } = [];

    public List<SkippedNode> Skipped { get; } = [];

    /// <param name="calibrated">The grid calibration gives a main-graph tensor, or null when it was not calibrated.</param>
    public static QdqLayout Plan(ModelView model, IReadOnlySet<string>? nodeNames, StaticQuantizationOptions options, Func<string, QuantizationParameters?> calibrated)
    {
        var layout = new QdqLayout(model.Main, options, calibrated);
        layout.Build(model, nodeNames);
        return layout;
    }

    /// <summary>
    /// Every tensor any layout of this model could quantize, whatever nodes it is limited to: inputs and
    /// outputs of the eligible layers (and of a Relu after them) and of the candidate integer ops.
    /// Calibrating these once serves every per-node plan.
    /// </summary>
    public static IReadOnlyList<string> CandidateTensors(ModelView model, StaticQuantizationOptions options)
    {
        var graph = model.Main;
        var types = ShapeInference.Run(model);
        var tensors = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        // A layer's operands are float (its weight is); elsewhere only values known to be float (Add and Concat also build shapes in int64).
        void Add(string t, bool knownFloat = false)
        {
            if (t.Length == 0 || graph.IsConstant(t) || seen.Contains(t)) return;
            if (!knownFloat && types.TypeOf(t).ElementType != DataType.Float) return;
            seen.Add(t);
            tensors.Add(t);
        }
        var layers = EligibleWeights(graph).Select(w => w.Node).ToHashSet(ReferenceEqualityComparer.Instance);
        foreach (var node in graph.TopologicalOrder())
        {
            if (layers.Contains(node))
            {
                Add(node.Input[0], knownFloat: true);
                Add(node.Output[0], knownFloat: true);
                if (!options.Activations.Symmetric && SingleReluAfter(graph, node.Output[0]) is { } relu) Add(relu.Output[0]);
            }
            else if (options.IntegerIntermediateOps && IsIntegerOp(node))
            {
                foreach (var i in DataInputs(node)) Add(node.Input[i]);
                Add(node.Output[0]);
                if (!options.Activations.Symmetric && OwnGridOps.Contains(node.OpType) && SingleReluAfter(graph, node.Output[0]) is { } relu) Add(relu.Output[0]);
            }
        }
        return tensors;
    }

    /// <summary>The Conv/Gemm/MatMul weights of the main graph the static pass can quantize (see <see cref="Problem"/>).</summary>
    public static IEnumerable<QuantizableWeight> EligibleWeights(GraphView graph) =>
        QuantizableWeight.Find(graph.Proto).Where(w => Problem(graph, w) is null);

    private void Build(ModelView model, IReadOnlySet<string>? nodeNames)
    {
        bool Requested(NodeProto n) => nodeNames is null || nodeNames.Contains(n.Name);
        foreach (var sub in model.Graphs().Skip(1))
            foreach (var node in sub.Nodes.Where(n => IsLayerOp(n) && Requested(n)))
                Skipped.Add(new SkippedNode(node.Name, "it is inside a subgraph (If/Loop/Scan body); static quantization rewrites the main graph only"));

        var weights = QuantizableWeight.Find(_graph.Proto).ToDictionary(w => w.Node, (IEqualityComparer<NodeProto>)ReferenceEqualityComparer.Instance);
        var candidates = new Dictionary<NodeProto, QuantizableWeight>(ReferenceEqualityComparer.Instance);
        foreach (var node in _graph.Nodes.Where(n => IsLayerOp(n) && Requested(n)))
        {
            var problem = weights.TryGetValue(node, out var w) ? Problem(_graph, w) : "its weight (input 1) is not a constant float initializer, or both operands are constants";
            if (problem is null) candidates[node] = w!;
            else Skipped.Add(new SkippedNode(node.Name, problem));
        }

        foreach (var node in _graph.TopologicalOrder())
        {
            if (candidates.TryGetValue(node, out var weight)) AddLayer(node, weight);
            else if (_options.IntegerIntermediateOps && IsIntegerOp(node)) AddIntegerOp(node);
        }
    }

    private void AddLayer(NodeProto node, QuantizableWeight weight)
    {
        var input = node.Input[0];
        var inputGrid = _grid.GetValueOrDefault(input) ?? (_calibrated(input) is not null ? input : null);
        if (inputGrid is null)
        {
            Skipped.Add(new SkippedNode(node.Name, $"its input '{input}' was not calibrated"));
            return;
        }
        var output = FusedOutput(node);
        // ORT fuses a Conv only with a Q on its output (QLinearConv); Gemm and MatMul also fuse without (float output).
        if (node.OpType == "Conv" && _calibrated(output) is null)
        {
            Skipped.Add(new SkippedNode(node.Name, $"its output '{output}' was not calibrated"));
            return;
        }
        var codes = CodesOf(weight);
        var bias = node.OpType == "Conv" ? node.InputOrEmpty(2) : ""; // a Gemm's bias stays a float Add (see Int8StaticQuantization)
        if (bias.Length > 0 && !BiasFitsInt32(bias, _calibrated(inputGrid)!.Value.Scale, codes.Scales))
        {
            Skipped.Add(new SkippedNode(node.Name, "its bias does not fit int32 at the input's scale times the weight's (a near-zero weight channel with a large bias)"));
            return;
        }
        Quantize(input, inputGrid);
        if (node.OpType == "Conv") Quantize(output, output);
        if (_calibrated(output) is not null) _grid[output] = output;
        Layers.Add(new QuantizedLayer(node, weight, codes, input, bias.Length > 0 ? bias : null));
    }

    private void AddIntegerOp(NodeProto node)
    {
        var inputs = DataInputs(node).Select(i => node.Input[i]).ToList();
        if (inputs.Count == 0 || !inputs.All(_grid.ContainsKey)) return; // only where integers already arrive
        string output, grid;
        if (SameGridOps.Contains(node.OpType))
        {
            output = node.Output[0];
            grid = _grid[inputs[0]];
        }
        else
        {
            output = FusedOutput(node);
            if (_calibrated(output) is null) return;
            grid = output;
        }
        foreach (var input in inputs) Quantize(input, _grid[input]);
        Quantize(output, grid);
        _grid[output] = grid;
        IntegerOps.Add(node);
    }

    private void Quantize(string tensor, string grid)
    {
        if (_gridOfQuantized.TryAdd(tensor, grid)) Quantized.Add((tensor, _calibrated(grid)!.Value));
    }

    // With an asymmetric grid, a single following Relu is folded into the node's output pair: uint8 with
    // zero point 0 clamps at 0 exactly as Relu does, and ORT removes the Relu when it fuses the node.
    private string FusedOutput(NodeProto node)
    {
        var output = node.Output[0];
        if (_options.Activations.Symmetric) return output;
        return SingleReluAfter(_graph, output) is { } relu && _calibrated(relu.Output[0]) is not null ? relu.Output[0] : output;
    }

    private static NodeProto? SingleReluAfter(GraphView graph, string value) =>
        !graph.IsGraphOutput(value) && graph.Consumers(value) is [{ Node: { OpType: "Relu" } relu } use] && relu.IsStandard() && !use.IsInSubgraph
            ? relu
            : null;

    private ChannelCodes CodesOf(QuantizableWeight weight)
    {
        var key = (weight.Initializer.Name, weight.ChannelAxis);
        if (_codes.TryGetValue(key, out var codes)) return codes;
        var values = TensorProtoConverter.ToNdArray(weight.Initializer);
        var (c, s) = PerChannelQuantizer.Quantize(values.ToFloats(), values.Shape, weight.ChannelAxis);
        return _codes[key] = new ChannelCodes(c, s);
    }

    private bool BiasFitsInt32(string bias, float inputScale, float[] weightScales)
    {
        var values = _graph.TryGetConstant(bias, out var array) ? array.ToFloats() : [];
        for (var c = 0; c < values.Length; c++)
            if (Math.Abs(values[c] / ((double)inputScale * weightScales[c])) > int.MaxValue / 2) return false;
        return true;
    }

    /// <summary>Why the static pass leaves this layer alone; null when it can quantize it.</summary>
    private static string? Problem(GraphView graph, QuantizableWeight weight)
    {
        var node = weight.Node;
        var channels = weight.Initializer.Dims[weight.ChannelAxis];
        if (!graph.IsConstantInitializer(weight.Initializer.Name))
            return "its weight is a graph input callers may override, not a constant";
        if (graph.IsConstant(node.Input[0]))
            return "both operands are constants (constant folding's job)";
        switch (node.OpType)
        {
            case "Conv" when weight.Initializer.Dims.Count < 3:
                return $"its weight has rank {weight.Initializer.Dims.Count}, not the rank ≥ 3 of a convolution kernel";
            case "Conv":
                return BiasProblem(graph, node.InputOrEmpty(2), channels, "channel", allowRow: false);
            case "Gemm" when node.GetInt("transA", 0) != 0:
                return "transA = 1 (a quantized Gemm is written as MatMul, which takes A as it is)";
            case "Gemm" when Math.Abs(node.GetFloat("alpha", 1f) - 1f) > 0:
                return "alpha ≠ 1";
            case "Gemm" when node.InputOrEmpty(2).Length > 0 && Math.Abs(node.GetFloat("beta", 1f) - 1f) > 0:
                return "beta ≠ 1";
            case "Gemm":
                return BiasProblem(graph, node.InputOrEmpty(2), channels, "feature", allowRow: true);
            case "MatMul" when weight.Initializer.Dims.Count != 2:
                return $"its weight has rank {weight.Initializer.Dims.Count}; only 2-D MatMul weights get per-column scales";
            default:
                return null;
        }
    }

    // The integer kernels take a bias as one value per output channel (Conv: int32 at input scale × channel scale; Gemm: float).
    private static string? BiasProblem(GraphView graph, string bias, long channels, string unit, bool allowRow)
    {
        if (bias.Length == 0) return null;
        if (graph.ConstantTensor(bias) is not { } tensor || tensor.DataType != (int)DataType.Float)
            return "its bias is not a constant float tensor";
        var fits = tensor.Dims is [var n] && n == channels || allowRow && tensor.Dims is [1, var m] && m == channels;
        return fits ? null : $"its bias has shape [{string.Join(",", tensor.Dims)}], not one value per output {unit} ({channels})";
    }

    private static bool IsLayerOp(NodeProto node) => node.IsStandard() && LayerOps.Contains(node.OpType);

    private static bool IsIntegerOp(NodeProto node) =>
        node.IsStandard() && (SameGridOps.Contains(node.OpType) || OwnGridOps.Contains(node.OpType))
        && node.Output.Count(o => o.Length > 0) == 1; // e.g. MaxPool's Indices output has no integer form

    private static IEnumerable<int> DataInputs(NodeProto node) => node.OpType switch
    {
        "Add" => [0, 1],
        "Concat" => Enumerable.Range(0, node.Input.Count).Where(i => node.Input[i].Length > 0),
        _ => [0],
    };
}
