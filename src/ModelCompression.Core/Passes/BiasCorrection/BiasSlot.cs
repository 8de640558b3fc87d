using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>
/// Where a layer's bias lives, the value whose mean error it can cancel, and how to shift it per channel:
/// <list type="table">
/// <item><term>Conv, ConvTranspose</term><description>input 2 (channels on axis 1 of the output)</description></item>
/// <item><term>Gemm</term><description>C, divided by beta (C of one value or one column broadcasts as ONNX does)</description></item>
/// <item><term>MatMulNBits, MatMulIntegerToFloat, DynamicQuantizeMatMul (com.microsoft)</term><description>inputs 5, 6, 4</description></item>
/// <item><term>MatMul, MatMulInteger</term><description>the constant of the Add that follows (through dynamic int8's
/// Cast·Mul rescale), or a new Add</description></item>
/// </list>
/// A bias that is a DequantizeLinear of int32 codes (static int8's QDQ layers, which ONNX Runtime runs as
/// QLinearConv with an int32 bias) is shifted in int32 at its own scale: the shift is rounded to that grid, whose
/// step (input scale × weight scale) is far below the errors corrected. A layer without a bias gets a float one,
/// except a QDQ layer (its weight dequantized by DequantizeLinear): a float bias or an Add there would stop ONNX
/// Runtime from fusing it into an integer kernel (<see cref="Passes.Quantization.Static.Int8StaticQuantization"/>).
/// </summary>
internal sealed class BiasSlot
{
    private const string MicrosoftDomain = "com.microsoft";

    private enum Kind { Input, DequantizedInt32, AddOperand, NewAdd }

    private readonly Kind _kind;
    private readonly NodeProto _holder; // the node whose input is the bias (the layer, the DequantizeLinear or the Add), or, for NewAdd, the producer of Observed
    private readonly int _index;

    private BiasSlot(NodeProto layer, string observed, int channelAxis, Kind kind, NodeProto holder, int index)
    {
        Layer = layer;
        Observed = observed;
        ChannelAxis = channelAxis;
        _kind = kind;
        _holder = holder;
        _index = index;
    }

    public NodeProto Layer { get; }

    /// <summary>The value the bias adds to, whose mean error is measured against the reference.</summary>
    public string Observed { get; }

    /// <summary>The channel axis of <see cref="Observed"/>; negative counts from the end.</summary>
    public int ChannelAxis { get; }

    /// <summary>The correction needs a new tensor (and for a bare MatMul a new Add node): it must earn its bytes.</summary>
    public bool CreatesBias => _kind == Kind.NewAdd || (_kind == Kind.Input && _holder.InputOrEmpty(_index).Length == 0);

    /// <summary>The node types that are layers for this pass.</summary>
    public static bool IsLayer(NodeProto node) =>
        node.IsStandard() ? node.OpType is "Conv" or "ConvTranspose" or "Gemm" or "MatMul" or "MatMulInteger"
            : node.Domain == MicrosoftDomain && node.OpType is "MatMulNBits" or "MatMulIntegerToFloat" or "DynamicQuantizeMatMul";

    /// <summary>The bias slot of <paramref name="node"/>; null with the reason when it has none this pass can shift.</summary>
    public static BiasSlot? Find(GraphView graph, NodeProto node, out string? problem)
    {
        problem = null;
        var output = node.OutputOrEmpty(0);
        switch (node.OpType)
        {
            case "Conv" or "ConvTranspose" when node.IsStandard():
                return InputSlot(graph, node, 2, output, 1, QdqWeight(graph, node, 1), out problem);
            case "Gemm" when node.IsStandard():
                return InputSlot(graph, node, 2, output, -1, false, out problem);
            case "MatMulNBits":
                return InputSlot(graph, node, 5, output, -1, false, out problem);
            case "MatMulIntegerToFloat":
                return InputSlot(graph, node, 6, output, -1, false, out problem);
            case "DynamicQuantizeMatMul":
                return InputSlot(graph, node, 4, output, -1, false, out problem);
            case "MatMul" when node.IsStandard():
                return Following(graph, node, output, QdqWeight(graph, node, 1), out problem);
            case "MatMulInteger" when node.IsStandard():
                // Dynamic int8: MatMulInteger → Cast → Mul (by activation × weight scales) → [Add bias].
                var cast = SoleReader(graph, output, "Cast");
                var rescale = cast is null ? null : SoleReader(graph, cast.Output[0], "Mul");
                if (rescale is null)
                {
                    problem = "its integer product is not rescaled by the Cast·Mul that dynamic int8 writes";
                    return null;
                }
                return Following(graph, node, rescale.Output[0], false, out problem);
            default:
                problem = "it is not a layer with a bias (Conv, ConvTranspose, Gemm, MatMul, MatMulNBits, MatMulInteger, MatMulIntegerToFloat, DynamicQuantizeMatMul)";
                return null;
        }
    }

    private static BiasSlot? InputSlot(GraphView graph, NodeProto node, int index, string observed, int axis, bool qdq, out string? problem)
    {
        problem = null;
        var bias = node.InputOrEmpty(index);
        if (bias.Length == 0)
        {
            if (qdq) problem = "it is a QDQ layer without a bias: a float bias would stop ONNX Runtime's integer fusion";
            return qdq ? null : new BiasSlot(node, observed, axis, Kind.Input, node, index);
        }
        if (graph.TryGetConstant(bias, out var value) && value.ElementType == DataType.Float)
            return new BiasSlot(node, observed, axis, Kind.Input, node, index);
        if (graph.Producer(bias) is { OpType: "DequantizeLinear" } dequantize && dequantize.IsStandard()
            && graph.TryGetConstant(dequantize.InputOrEmpty(0), out var codes) && codes.ElementType == DataType.Int32
            && graph.TryGetConstant(dequantize.InputOrEmpty(1), out var scales) && scales.ElementType == DataType.Float
            && (dequantize.InputOrEmpty(2).Length == 0 || (graph.TryGetConstant(dequantize.Input[2], out var zero) && zero.ToInt64s().All(z => z == 0)))
            && graph.Consumers(bias).Count == 1)
            return new BiasSlot(node, observed, axis, Kind.DequantizedInt32, dequantize, 0);
        problem = $"its bias '{bias}' is neither a float constant nor a DequantizeLinear of int32 constants";
        return null;
    }

    // The Add after `value` (the layer's product) whose other operand is a float constant, or a new Add.
    private static BiasSlot? Following(GraphView graph, NodeProto layer, string value, bool qdq, out string? problem)
    {
        problem = null;
        if (SoleReader(graph, value, "Add") is { } add && !graph.IsGraphOutput(value))
        {
            var operand = add.Input[0] == value ? 1 : 0;
            if (graph.TryGetConstant(add.InputOrEmpty(operand), out var constant) && constant.ElementType == DataType.Float)
                return new BiasSlot(layer, add.Output[0], -1, Kind.AddOperand, add, operand);
        }
        if (qdq)
        {
            problem = "it is a QDQ MatMul without a bias: an Add after it would stop ONNX Runtime's integer fusion";
            return null;
        }
        return new BiasSlot(layer, value, -1, Kind.NewAdd, graph.Producer(value)!, 0);
    }

    private static NodeProto? SoleReader(GraphView graph, string value, string opType) =>
        graph.Consumers(value) is [{ Node: { } reader } only] && !only.IsInSubgraph && reader.OpType == opType && reader.IsStandard() ? reader : null;

    private static bool QdqWeight(GraphView graph, NodeProto node, int index) =>
        graph.Producer(node.InputOrEmpty(index)) is { OpType: "DequantizeLinear" };

    /// <summary>Adds <paramref name="shift"/>[c] to channel c of the bias; false with the reason when its shape cannot take it.</summary>
    public bool Shift(GraphView graph, UniqueNames names, double[] shift, out string? problem)
    {
        problem = null;
        var baseName = $"{(Layer.Name.Length > 0 ? Layer.Name : Observed)}/bias";
        switch (_kind)
        {
            case Kind.DequantizedInt32:
                graph.TryGetConstant(_holder.Input[0], out var codes);
                graph.TryGetConstant(_holder.Input[1], out var scales);
                if (codes!.ElementCount != shift.Length || (scales!.ElementCount != 1 && scales.ElementCount != shift.Length))
                {
                    problem = $"its int32 bias has {codes.ElementCount} values for {shift.Length} channels";
                    return false;
                }
                var step = scales.ToFloats();
                var shifted = codes.AsSpan<int>().ToArray();
                for (var c = 0; c < shifted.Length; c++)
                    shifted[c] = (int)Math.Clamp(Math.Round(shifted[c] + shift[c] / step[step.Length == 1 ? 0 : c], MidpointRounding.ToEven), int.MinValue, int.MaxValue);
                graph.SetConstantInput(_holder, 0, NdArray.Create<int>(codes.Shape, shifted), baseName);
                return true;
            case Kind.NewAdd:
                var uncorrected = names.Next($"{Observed}/uncorrected");
                for (var i = 0; i < _holder.Output.Count; i++)
                    if (_holder.Output[i] == Observed) _holder.Output[i] = uncorrected;
                graph.Invalidate();
                var biasName = names.Next(baseName);
                graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([shift.Length], shift.Select(v => (float)v).ToArray()), biasName));
                graph.InsertNode(graph.PositionOf(_holder) + 1, OnnxFactory.Node("Add", [uncorrected, biasName], [Observed], names.Next($"{Layer.Name}/bias_correction")));
                return true;
            default:
                var beta = _kind == Kind.Input && Layer.OpType == "Gemm" ? _holder.GetFloat("beta", 1f) : 1f;
                NdArray? current = null;
                if (_holder.InputOrEmpty(_index).Length > 0 && !graph.TryGetConstant(_holder.Input[_index], out current))
                {
                    problem = $"its bias '{_holder.Input[_index]}' is no longer a constant";
                    return false;
                }
                if (beta == 0 || current is null)
                {
                    // No bias yet (or Gemm's beta = 0 ignores it): the shift alone, at beta 1.
                    if (Layer.OpType == "Gemm") _holder.SetAttribute("beta", 1f);
                    current = null;
                    beta = 1;
                }
                if (Shifted(current, shift, 1 / beta) is not { } updated)
                {
                    problem = $"its bias of shape [{string.Join(", ", current!.Shape.ToArray())}] cannot take one shift per channel of {shift.Length}";
                    return false;
                }
                graph.SetConstantInput(_holder, _index, updated, baseName);
                return true;
        }
    }

    // bias + shift·factor along the last axis; a bias of one value becomes one per channel, one of a single column a full row per channel.
    private static NdArray? Shifted(NdArray? bias, double[] shift, double factor)
    {
        var channels = shift.Length;
        if (bias is null) return NdArray.Create<float>([channels], shift.Select(v => (float)(v * factor)).ToArray());
        var values = bias.ToFloats();
        if (bias.Rank >= 1 && bias.Shape[^1] == channels)
            return NdArray.Create<float>(bias.Shape, values.Select((v, i) => (float)(v + shift[i % channels] * factor)).ToArray());
        if (bias.ElementCount == 1)
            return NdArray.Create<float>([channels], shift.Select(v => (float)(values[0] + v * factor)).ToArray());
        if (bias.Rank == 2 && bias.Shape[1] == 1)
            return NdArray.Create<float>([bias.Shape[0], channels],
                Enumerable.Range(0, values.Length * channels).Select(i => (float)(values[i / channels] + shift[i % channels] * factor)).ToArray());
        return null;
    }
}
