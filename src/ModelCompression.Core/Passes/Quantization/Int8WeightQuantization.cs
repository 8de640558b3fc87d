using ModelCompression.Core.Graph;
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
        var view = new ModelView(model);
        var rewrites = 0;
        foreach (var graph in view.Graphs().Where(g => g.CanAddInitializers))
        {
            // One quantized copy per weight tensor, however many of the chosen nodes read it.
            var groups = Eligible(graph.Proto, minElements)
                .Where(w => nodeNames is null || nodeNames.Contains(w.Node.Name))
                .GroupBy(w => (w.Initializer.Name, w.ChannelAxis))
                .ToList();
            foreach (var group in groups)
            {
                var dequantized = Dequantize(graph, view.Names, group.First());
                foreach (var weight in group) graph.SetInput(weight.Node, weight.InputIndex, dequantized);
                if (!graph.IsUsed(group.Key.Name)) graph.RemoveInitializer(group.Key.Name);
                rewrites += group.Count();
            }
        }
        return rewrites;
    }

    private string Dequantize(GraphView graph, UniqueNames names, QuantizableWeight weight)
    {
        var source = TensorProtoConverter.ToNdArray(weight.Initializer);
        var (codes, scales) = PerChannelQuantizer.Quantize(source.ToFloats(), source.Shape, weight.ChannelAxis);
        var baseName = weight.Initializer.Name;
        var codesName = names.Next($"{baseName}.int8");
        var scalesName = names.Next($"{baseName}.scale");
        var outputName = names.Next($"{baseName}.dequantized");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<sbyte>(source.Shape, codes), codesName));
        if (form == DequantizeForm.DequantizeLinear)
        {
            graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([scales.Length], scales), scalesName));
            graph.InsertBefore(weight.Node, OnnxFactory.Node("DequantizeLinear", [codesName, scalesName], [outputName],
                names.Next($"{baseName}.dequantize"), attributes: ("axis", weight.ChannelAxis)));
        }
        else
        {
            // Scales shaped to broadcast along the channel axis: [M,1,1,1] for Conv, [N] for MatMul.
            var scaleShape = Enumerable.Range(0, source.Rank).Select(a => a == weight.ChannelAxis ? (long)scales.Length : 1L).ToArray();
            graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>(scaleShape, scales), scalesName));
            var castName = names.Next($"{baseName}.cast");
            graph.InsertBefore(weight.Node, OnnxFactory.Node("Cast", [codesName], [castName], names.Next($"{baseName}.cast"), attributes: ("to", (int)DataType.Float)));
            graph.InsertBefore(weight.Node, OnnxFactory.Node("Mul", [castName, scalesName], [outputName], names.Next($"{baseName}.dequantize")));
        }
        return outputName;
    }
}
