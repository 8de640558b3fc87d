using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization.Static;

/// <summary>
/// Static int8 quantization in the QDQ form: Conv, Gemm and MatMul weights become int8 codes with one
/// scale per output channel behind a per-axis DequantizeLinear, biases int32 at (input scale × channel
/// scale), and activations pass through QuantizeLinear→DequantizeLinear with grids calibrated on
/// samples. The model keeps its float inputs and outputs; ONNX Runtime recognises the pattern when the
/// session loads and runs QLinearConv, QLinearMatMul or MatMulIntegerToFloat on the integers
/// (and MaxPool/Reshape/... on them as they are, QLinearAdd/QLinearConcat/QLinearGlobalAveragePool for
/// the ops between layers, see <see cref="StaticQuantizationOptions.IntegerIntermediateOps"/>). A Gemm
/// layer is written as a QDQ MatMul, or with a bias directly as the MatMulIntegerToFloat ORT would fuse
/// (see <see cref="WriteGemmAsIntegerMatMul"/> for why).
/// <para>
/// Leaves alone, and lists in <see cref="Skipped"/> with the reason: layers inside subgraphs, layers whose
/// weight is not a constant float initializer (shared weights are fine: each reader gets its own
/// DequantizeLinear of one stored copy), MatMul weights of rank ≠ 2, Gemm with transA = 1, alpha ≠ 1 or
/// (with a bias) beta ≠ 1, biases that are not one constant value per output channel (or, Conv, do not fit int32), and layers
/// whose activations were not calibrated. Models before opset 13 (no per-axis DequantizeLinear) are left
/// unchanged: see <see cref="CanApply"/>; no opset conversion is attempted.
/// </para>
/// <para>
/// Measured with ONNX Runtime 1.31.1 on CPU (AMD EPYC, AVX512-VNNI), batch 1, one thread, latency relative to the
/// fp32 model timed interleaved in the same process (<c>dotnet run -c Release --project tests/ModelCompression.QuantizationBench -- table</c>):
/// fashion-cnn (3403 KB, 91.04%) becomes 861 KB at 0.42–0.43× the latency, 91.05% (MinMax) / 91.08% (Percentile
/// 99.99) / 90.88% (Entropy) on the 10,000 validation images; digits-mlp (97.59%) keeps its accuracy but runs
/// 1.64–1.81× slower: its 64- and 128-wide Gemms are too small for the integer kernels to repay quantizing their
/// inputs. Symmetric activations: 2.35× (fashion-cnn) and 5.59× (digits-mlp), see <see cref="CalibrationSettings.Symmetric"/>.
/// </para>
/// </summary>
public sealed class Int8StaticQuantization : IGraphPass
{
    /// <summary>The first opset whose DequantizeLinear takes per-channel scales (the axis attribute).</summary>
    public const int MinimumOpset = 13;

    private const string MicrosoftDomain = "com.microsoft";

    private readonly IReadOnlySet<string>? _nodeNames;
    private readonly StaticQuantizationOptions _options;
    private readonly CalibrationResult? _calibration;
    private readonly SampleSet? _samples;
    private readonly EvaluationOptions? _calibrationRun;

    /// <summary>With statistics calibrated beforehand (e.g. once for all candidates, see <see cref="Calibrate"/>).</summary>
    /// <param name="nodeNames">The layers to quantize; null for every eligible one.</param>
    public Int8StaticQuantization(CalibrationResult calibration, IReadOnlySet<string>? nodeNames = null, StaticQuantizationOptions? options = null)
    {
        _calibration = calibration;
        _nodeNames = nodeNames;
        _options = options ?? StaticQuantizationOptions.Default;
    }

    /// <summary>Calibrating on <paramref name="calibrationSamples"/> when applied (each <see cref="Apply"/> runs the model over them).</summary>
    public Int8StaticQuantization(SampleSet calibrationSamples, IReadOnlySet<string>? nodeNames = null, StaticQuantizationOptions? options = null, EvaluationOptions? calibrationRun = null)
    {
        _samples = calibrationSamples;
        _nodeNames = nodeNames;
        _options = options ?? StaticQuantizationOptions.Default;
        _calibrationRun = calibrationRun;
    }

    public string Name => "int8-static";

    /// <summary>What the last <see cref="Apply"/> left alone and why (one entry naming no node when it left the whole model).</summary>
    public IReadOnlyList<SkippedNode> Skipped { get; private set; } = [];

    /// <summary>Whether the pass can rewrite <paramref name="model"/> at all; otherwise why not.</summary>
    public static bool CanApply(ModelProto model, out string reason)
    {
        var opset = new ModelView(model).OpsetVersion();
        if (opset < MinimumOpset)
        {
            reason = $"the model imports ONNX opset {opset}; static int8 needs opset {MinimumOpset} or later for per-channel DequantizeLinear (axis), and the model's opset is not converted";
            return false;
        }
        reason = "";
        return true;
    }

    /// <summary>The layers (node names) the pass can quantize in <paramref name="model"/>, in graph order.</summary>
    public static IReadOnlyList<string> EligibleNodes(ModelProto model) =>
        CanApply(model, out _) ? QdqLayout.EligibleWeights(new ModelView(model).Main).Select(w => w.Node.Name).Distinct().ToList() : [];

    /// <summary>
    /// Calibrates every activation any node subset of <paramref name="model"/> may quantize, so that one result serves
    /// every candidate. Histograms (a second pass over the samples) are collected when <paramref name="options"/>' method
    /// needs them; calibrated with Percentile or Entropy, the result serves all three methods and both encodings.
    /// </summary>
    public static CalibrationResult Calibrate(ModelProto model, string modelName, SampleSet samples, StaticQuantizationOptions? options = null, EvaluationOptions? run = null)
    {
        options ??= StaticQuantizationOptions.Default;
        var tensors = CanApply(model, out _) ? QdqLayout.CandidateTensors(new ModelView(model), options) : [];
        return Calibrator.Collect(model, modelName, tensors, samples, options.Activations.NeedsHistograms, run);
    }

    public int Apply(ModelProto model)
    {
        if (!CanApply(model, out var reason))
        {
            Skipped = [new SkippedNode("(model)", reason)];
            return 0;
        }
        var calibration = _calibration ?? Calibrate(model, "the model being quantized", _samples!, _options, _calibrationRun);
        var settings = _options.Activations;
        var view = new ModelView(model);
        var layout = QdqLayout.Plan(view, _nodeNames, _options,
            tensor => calibration.Supports(tensor, settings) ? calibration.Parameters(tensor, settings) : null);
        Skipped = layout.Skipped;
        if (layout.Layers.Count == 0) return 0;

        var graph = view.Main;
        var pairs = layout.Quantized.ToDictionary(q => q.Tensor, q => InsertQuantizePair(graph, view.Names, q.Tensor, q.Grid), StringComparer.Ordinal);
        var weightCodes = new Dictionary<(string, int), (string Codes, string Scales)>();
        var replaced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in layout.Layers)
        {
            var input = pairs[layer.Input];
            var (codes, scales, axis) = StoreWeight(graph, view.Names, layer, weightCodes);
            replaced.Add(layer.Weight.Initializer.Name);
            if (layer.Node.OpType == "Gemm" && layer.Node.InputOrEmpty(2) is { Length: > 0 } gemmBias)
            {
                WriteGemmAsIntegerMatMul(graph, view.Names, layer.Node, input, codes, scales, gemmBias);
                replaced.Add(gemmBias);
                continue;
            }
            var weight = DequantizeWeight(graph, view.Names, layer, codes, scales, axis);
            if (layer.Node.OpType == "Gemm")
            {
                graph.ReplaceNode(layer.Node, OnnxFactory.Node("MatMul", [layer.Node.Input[0], weight], [layer.Node.Output[0]], layer.Node.Name));
                continue;
            }
            graph.SetInput(layer.Node, 1, weight);
            if (layer.Bias is { } bias)
            {
                DequantizeBias(graph, view.Names, layer, bias, input.Grid.Scale);
                replaced.Add(bias);
            }
        }
        foreach (var name in replaced)
            if (!graph.IsUsed(name) && graph.Initializer(name) is not null) graph.RemoveInitializer(name);
        foreach (var pair in pairs.Values)
            if (!graph.IsUsed(pair.Dequantized)) graph.RemoveNode(pair.Dequantize); // every reader takes the integers directly
        return layout.Layers.Count + layout.IntegerOps.Count;
    }

    // tensor → QuantizeLinear → DequantizeLinear → every reader. A graph output keeps its name: the producer
    // writes a new value and the DequantizeLinear writes the output, so ORT sees the producer read only by Q.
    private static QuantizedValue InsertQuantizePair(GraphView graph, UniqueNames names, string tensor, QuantizationParameters grid)
    {
        var scale = names.Next($"{tensor}_scale");
        var zeroPoint = names.Next($"{tensor}_zero_point");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([], [grid.Scale]), scale));
        graph.AddInitializer(grid.ElementType == DataType.Uint8
            ? TensorProtoConverter.ToTensorProto(NdArray.Create<byte>([], [(byte)grid.ZeroPoint]), zeroPoint)
            : TensorProtoConverter.ToTensorProto(NdArray.Create<sbyte>([], [(sbyte)grid.ZeroPoint]), zeroPoint));

        var producer = graph.Producer(tensor);
        var source = tensor;
        var dequantized = names.Next($"{tensor}_dequantized");
        if (graph.IsGraphOutput(tensor) && producer is not null)
        {
            source = names.Next($"{tensor}_float");
            for (var i = 0; i < producer.Output.Count; i++)
                if (producer.Output[i] == tensor) producer.Output[i] = source;
            dequantized = tensor;
        }
        else
        {
            graph.ReplaceUses(tensor, dequantized);
        }
        var quantized = names.Next($"{tensor}_quantized");
        var quantize = OnnxFactory.Node("QuantizeLinear", [source, scale, zeroPoint], [quantized], names.Next($"{tensor}_QuantizeLinear"));
        var dequantize = OnnxFactory.Node("DequantizeLinear", [quantized, scale, zeroPoint], [dequantized], names.Next($"{tensor}_DequantizeLinear"));
        var position = producer is null ? 0 : graph.PositionOf(producer) + 1;
        graph.InsertNode(position, dequantize);
        graph.InsertNode(position, quantize);
        return new QuantizedValue(quantized, scale, zeroPoint, dequantized, dequantize, grid);
    }

    /// <summary>An activation's Q/DQ pair: the integer value, its grid's initializers, and the float value readers take.</summary>
    private sealed record QuantizedValue(string Quantized, string Scale, string ZeroPoint, string Dequantized, NodeProto Dequantize, QuantizationParameters Grid);

    // One stored int8 copy per (weight, channel axis), shared by every layer reading it. A Gemm's weight is stored as
    // MatMul takes it: [K, N], channels on axis 1.
    private static (string Codes, string Scales, int Axis) StoreWeight(GraphView graph, UniqueNames names, QuantizedLayer layer, Dictionary<(string, int), (string Codes, string Scales)> stored)
    {
        var weight = layer.Weight;
        var transpose = layer.Node.OpType == "Gemm" && weight.ChannelAxis == 0;
        var axis = transpose ? 1 : weight.ChannelAxis;
        if (!stored.TryGetValue((weight.Initializer.Name, axis), out var storedNames))
        {
            var shape = weight.Initializer.Dims.ToArray();
            var codes = layer.Codes.Codes;
            if (transpose)
            {
                codes = MatrixLayout.Transposed<sbyte>(codes, (int)shape[0], (int)shape[1]);
                shape = [shape[1], shape[0]];
            }
            storedNames = (names.Next($"{weight.Initializer.Name}_int8"), names.Next($"{weight.Initializer.Name}_scale"));
            graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<sbyte>(shape, codes), storedNames.Codes));
            graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([layer.Codes.Scales.Length], layer.Codes.Scales), storedNames.Scales));
            stored[(weight.Initializer.Name, axis)] = storedNames;
        }
        return (storedNames.Codes, storedNames.Scales, axis);
    }

    // One DequantizeLinear per reading layer: ORT fuses each layer with its own.
    private static string DequantizeWeight(GraphView graph, UniqueNames names, QuantizedLayer layer, string codes, string scales, int axis)
    {
        var output = names.Next($"{layer.Weight.Initializer.Name}_dequantized");
        graph.InsertBefore(layer.Node, OnnxFactory.Node("DequantizeLinear", [codes, scales], [output],
            names.Next($"{layer.Node.Name}_weight_DequantizeLinear"), attributes: ("axis", axis)));
        return output;
    }

    /// <summary>
    /// Gemm(A, B, C) as com.microsoft MatMulIntegerToFloat(Q(A), B codes, A scale, B scales, A zero point, -, C): the
    /// kernel ORT itself fuses a QDQ MatMul into, with the bias inside. Written directly because in ORT 1.31 no QDQ form
    /// of a Gemm with a bias fuses: a QDQ Gemm stays a float Gemm (a second Gemm rule it registers, DQ → MatMulNBits,
    /// hides the QGemm fusion), and a QDQ MatMul followed by the bias Add is turned back into that Gemm by MatMulAddFusion,
    /// which runs first; either way the weight would be dequantized on every run (both checked by the tests).
    /// A Gemm without a bias is written as a QDQ MatMul, which ORT fuses (into QLinearMatMul when its output is quantized too).
    /// </summary>
    private static void WriteGemmAsIntegerMatMul(GraphView graph, UniqueNames names, NodeProto gemm, QuantizedValue input, string codes, string scales, string bias)
    {
        graph.TryGetConstant(bias, out var values);
        var vector = bias;
        if (values!.Rank != 1)
        {
            vector = names.Next($"{bias}_vector");
            graph.AddInitializer(TensorProtoConverter.ToTensorProto(values.Reshape([values.ElementCount]), vector));
        }
        graph.ReplaceNode(gemm, OnnxFactory.Node("MatMulIntegerToFloat", [input.Quantized, codes, input.Scale, scales, input.ZeroPoint, "", vector],
            [gemm.Output[0]], gemm.Name, MicrosoftDomain));
        if (graph.Model.OpsetVersion(MicrosoftDomain) == 0)
            graph.Model.Proto.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
    }


    // The bias as int32 at scale (input scale × channel scale), the accumulator's own grid, as QLinearConv takes it.
    private static void DequantizeBias(GraphView graph, UniqueNames names, QuantizedLayer layer, string bias, float inputScale)
    {
        graph.TryGetConstant(bias, out var array);
        var values = array!.ToFloats();
        var channelScales = layer.Codes.Scales;
        var scales = new float[values.Length];
        var codes = new int[values.Length];
        for (var c = 0; c < values.Length; c++)
        {
            scales[c] = inputScale * channelScales[c];
            codes[c] = (int)Math.Round(values[c] / (double)scales[c], MidpointRounding.ToEven);
        }
        var codesName = names.Next($"{bias}_{layer.Node.Name}_int32");
        var scalesName = names.Next($"{bias}_{layer.Node.Name}_scale");
        var output = names.Next($"{bias}_{layer.Node.Name}_dequantized");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<int>(array.Shape, codes), codesName));
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([scales.Length], scales), scalesName));
        graph.InsertBefore(layer.Node, OnnxFactory.Node("DequantizeLinear", [codesName, scalesName], [output],
            names.Next($"{layer.Node.Name}_bias_DequantizeLinear"), attributes: ("axis", array.Rank - 1)));
        graph.SetInput(layer.Node, 2, output);
    }
}
