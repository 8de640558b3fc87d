using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.DataAware;
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
/// Stores the float weights of the weight slots (<see cref="QuantizableWeight"/>: Conv, ConvTranspose, Gemm, MatMul,
/// LSTM/GRU/RNN, Gather), in every graph including If/Loop bodies, as int8 codes with one scale per output channel,
/// dequantized inside the graph, so inputs, outputs and arithmetic stay float. The file shrinks; the memory of a
/// loaded session does not (the weights are floats again once loaded).
/// </summary>
/// <param name="nodeNames">The nodes whose weights to quantize; null for all.</param>
/// <param name="rounding">With <see cref="Rounding.Hessian"/>, the Gemm, MatMul and Conv weights whose layers have input
/// moments in <paramref name="statistics"/> are rounded by GPTQ (<see cref="GptqPerChannel"/>: same scales, codes that
/// minimise the output error); the others, and every weight without moments, to nearest.</param>
public sealed class Int8WeightQuantization(IReadOnlySet<string>? nodeNames = null, DequantizeForm form = DequantizeForm.CastMul,
    int minElements = Int8WeightQuantization.DefaultMinElements, Rounding rounding = Rounding.Nearest, ILayerStatistics? statistics = null) : IGraphPass
{
    /// <summary>Below this many elements a weight is left as is: its scales and nodes would cost about what int8 saves.</summary>
    public const int DefaultMinElements = 128;

    public string Name => "int8-weights";

    /// <summary>The weights of <paramref name="model"/> (subgraphs included) this pass can quantize, whatever nodes it is limited to.</summary>
    public static IReadOnlyList<QuantizableWeight> Eligible(ModelProto model, int minElements = DefaultMinElements) =>
        Eligible(new ModelView(model), minElements);

    private static IReadOnlyList<QuantizableWeight> Eligible(ModelView model, int minElements) =>
        QuantizableWeight.Replaceable(model, minElements);

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var chosen = Eligible(view, minElements).Where(w => nodeNames is null || nodeNames.Contains(w.Node.Name));
        var rewrites = 0;
        // One quantized copy per weight tensor (and channel axis), however many of the chosen nodes read it.
        var weights = WeightReplacement.Group(chosen, byChannelAxis: true).ToList();
        // Every H before the first rewrite: a second low-rank factor's is derived from its partner's float weight.
        var moments = rounding == Rounding.Hessian ? new LayerMoments(statistics, view) : null;
        var inputs = weights.Select(w => moments?.For(w.Reads)).ToList();
        for (var i = 0; i < weights.Count; i++)
        {
            weights[i].Redirect(Dequantize(weights[i], view.Names, inputs[i]));
            rewrites += weights[i].SlotCount;
        }
        return rewrites;
    }

    private string Dequantize(WeightReplacement weight, UniqueNames names, RoundingInput? hessian)
    {
        var source = TensorProtoConverter.ToNdArray(weight.Initializer);
        var axis = weight.ChannelAxis;
        var (codes, scales) = hessian is null ? PerChannelQuantizer.Quantize(source.ToFloats(), source.Shape, axis) : Gptq(source.ToFloats(), hessian);
        var baseName = weight.Initializer.Name;
        var codesName = names.Next($"{baseName}.int8");
        var scalesName = names.Next($"{baseName}.scale");
        var outputName = names.Next($"{baseName}.dequantized");
        weight.Owner.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<sbyte>(source.Shape, codes), codesName));
        if (form == DequantizeForm.DequantizeLinear)
        {
            weight.Owner.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>([scales.Length], scales), scalesName));
            weight.AddNode(OnnxFactory.Node("DequantizeLinear", [codesName, scalesName], [outputName],
                names.Next($"{baseName}.dequantize"), attributes: ("axis", axis)));
        }
        else
        {
            // Scales shaped to broadcast along the channel axis: [M,1,1,1] for Conv, [N] for MatMul.
            var scaleShape = Enumerable.Range(0, source.Rank).Select(a => a == axis ? (long)scales.Length : 1L).ToArray();
            weight.Owner.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<float>(scaleShape, scales), scalesName));
            var castName = names.Next($"{baseName}.cast");
            weight.AddNode(OnnxFactory.Node("Cast", [codesName], [castName], names.Next($"{baseName}.cast"), attributes: ("to", (int)DataType.Float)));
            weight.AddNode(OnnxFactory.Node("Mul", [castName, scalesName], [outputName], names.Next($"{baseName}.dequantize")));
        }
        return outputName;
    }

    // GPTQ in the rows view, codes back in the tensor's layout (the rows are the channels, so the scales match).
    private static (sbyte[] Codes, float[] Scales) Gptq(float[] values, RoundingInput hessian)
    {
        var layout = hessian.Layout;
        var (codes, scales) = GptqPerChannel.Quantize(layout.Rows(values), layout.Outputs, layout.Inputs, hessian.Hessians);
        return (layout.Tensor<sbyte>(codes), scales);
    }
}
