using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization;

/// <summary>
/// How a quantized weight is turned back into floats inside the model. Measured with ONNX Runtime
/// 1.31 on CPU, batch 1, one thread (fashion-cnn / digits-mlp latency relative to fp32):
/// weight-only DequantizeLinear 2.11× / 2.26× (ORT keeps DQ nodes for QDQ fusion and so
/// dequantizes every weight on every run), Cast·Mul 1.02× / 1.00× (a constant subgraph that ORT
/// folds into a float weight when the session loads), integer ops with dynamic activation
/// quantization (DynamicQuantizeLinear + MatMulInteger) 0.88× / 1.78× (faster only for large
/// matrices, and it also rounds activations). Weight-only storage therefore uses
/// <see cref="CastMul"/>: the file shrinks 4× and the model is exactly as fast as the original.
/// </summary>
public enum DequantizeForm
{
    /// <summary>Mul(Cast(int8 codes), scales): any opset; folded into a float weight at session load.</summary>
    CastMul,
    /// <summary>DequantizeLinear(int8 codes, per-channel scales) (opset 13+): the form ORT fuses with activation Q/DQ.</summary>
    DequantizeLinear,
}

/// <summary>
/// Stores the float weights of Conv, Gemm and MatMul nodes as int8 codes with one scale per output
/// channel, dequantized inside the graph, so inputs, outputs and arithmetic stay float. The file
/// shrinks; the memory of a loaded session does not (the weights are floats again once loaded).
/// </summary>
public sealed class Int8WeightQuantization(IReadOnlySet<string>? nodeNames = null, DequantizeForm form = DequantizeForm.CastMul, int minElements = Int8WeightQuantization.DefaultMinElements) : IGraphPass
{
    /// <summary>Below this many elements a weight is left as is: its scales and nodes would cost about what int8 saves.</summary>
    public const int DefaultMinElements = 128;

    public string Name => "int8-weights";

    /// <summary>The weights of <paramref name="graph"/> this pass can quantize, whatever nodes it is limited to.</summary>
    public static IEnumerable<QuantizableWeight> Eligible(GraphProto graph, int minElements = DefaultMinElements) =>
        QuantizableWeight.Find(graph).Where(w => TensorProtoConverter.ElementCount(w.Initializer) >= minElements);

    public int Apply(ModelProto model)
    {
        var rewrites = 0;
        foreach (var graph in OnnxWalk.Graphs(model).ToList())
        {
            // One quantized copy per weight tensor, however many of the chosen nodes read it.
            var groups = Eligible(graph, minElements)
                .Where(w => nodeNames is null || nodeNames.Contains(w.Node.Name))
                .GroupBy(w => (w.Initializer.Name, w.ChannelAxis))
                .ToList();
            foreach (var group in groups)
            {
                var dequantized = Dequantize(graph, group.First());
                foreach (var weight in group) weight.Node.Input[weight.InputIndex] = dequantized;
                rewrites += group.Count();
            }
        }
        RemoveUnusedInitializers(model);
        return rewrites;
    }

    private string Dequantize(GraphProto graph, QuantizableWeight weight)
    {
        var source = TensorProtoConverter.ToNdArray(weight.Initializer);
        var (codes, scales) = PerChannelQuantizer.Quantize(source.ToFloats(), source.Shape, weight.ChannelAxis);
        var baseName = weight.Initializer.Name;
        var codesName = $"{baseName}.int8";
        var scalesName = $"{baseName}.scale";
        var outputName = $"{baseName}.dequantized";
        var index = graph.Node.IndexOf(weight.Node);
        graph.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<sbyte>(source.Shape, codes), codesName));
        if (form == DequantizeForm.DequantizeLinear)
        {
            graph.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([scales.Length], scales), scalesName));
            graph.Node.Insert(index, OnnxFactory.Node("DequantizeLinear", [codesName, scalesName], [outputName],
                $"{baseName}.dequantize", attributes: ("axis", weight.ChannelAxis)));
        }
        else
        {
            // Scales shaped to broadcast along the channel axis: [M,1,1,1] for Conv, [N] for MatMul.
            var scaleShape = Enumerable.Range(0, source.Rank).Select(a => a == weight.ChannelAxis ? (long)scales.Length : 1L).ToArray();
            graph.Initializer.Add(TensorProtoConverter.ToTensorProto(NdArray.Create<float>(scaleShape, scales), scalesName));
            var castName = $"{baseName}.cast";
            graph.Node.Insert(index, OnnxFactory.Node("Mul", [castName, scalesName], [outputName], $"{baseName}.dequantize"));
            graph.Node.Insert(index, OnnxFactory.Node("Cast", [codesName], [castName], $"{baseName}.cast", attributes: ("to", (int)DataType.Float)));
        }
        return outputName;
    }

    private static void RemoveUnusedInitializers(ModelProto model)
    {
        foreach (var graph in OnnxWalk.Graphs(model))
        {
            var used = OnnxWalk.GraphAndSubgraphs(graph).SelectMany(g => g.Node).SelectMany(n => n.Input)
                .Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
            for (var i = graph.Initializer.Count - 1; i >= 0; i--)
                if (!used.Contains(graph.Initializer[i].Name)) graph.Initializer.RemoveAt(i);
        }
    }
}
