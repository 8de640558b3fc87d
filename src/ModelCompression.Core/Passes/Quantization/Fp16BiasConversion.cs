using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Quantization;

/// <summary>
/// Stores the float biases of the named layers as float16 initializers turned back into float by a Cast, which ONNX
/// Runtime folds when the session loads (as <see cref="Fp16WeightConversion"/> does for weights). Once a layer's weights
/// are a few bits each, its float32 bias is a visible share of a small file (fashion-cnn's five biases: 2 KB of 44 KB),
/// while one float16 rounding (relative 2⁻¹¹) is far below the error of those weights. The bias is input 2 of Conv,
/// ConvTranspose and Gemm, input 5 of MatMulNBits, or the constant operand of the Add that is a MatMul's only reader;
/// it is converted when it is an initializer only that node reads, of at least <see cref="Fp16WeightConversion.DefaultMinElements"/>
/// values, all within float16's range. Cost: linear in the biases' size.
/// </summary>
public sealed class Fp16BiasConversion(IReadOnlySet<string> nodeNames) : IGraphPass
{
    public string Name => "fp16-biases";

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        if (view.OpsetVersion() < Fp16WeightConversion.MinimumOpset) return 0;
        var converted = 0;
        foreach (var graph in view.Graphs().Where(g => g.CanAddInitializers))
            foreach (var node in graph.Nodes.Where(n => nodeNames.Contains(n.Name)).ToList())
                if (BiasOf(graph, node) is ({ } holder, var index) && Convert(graph, view.Names, holder, index)) converted++;
        return converted;
    }

    // The node whose input `index` is the layer's bias.
    private static (NodeProto? Holder, int Index) BiasOf(GraphView graph, NodeProto node) => node switch
    {
        { OpType: "Conv" or "ConvTranspose" or "Gemm" } when node.IsStandard() => (node, 2),
        { OpType: "MatMulNBits", Domain: "com.microsoft" } => (node, 5),
        { OpType: "MatMul" } when node.IsStandard() && graph.Consumers(node.OutputOrEmpty(0)) is [{ Node: { OpType: "Add" } add, IsInSubgraph: false }]
            && !graph.IsGraphOutput(node.Output[0]) => (add, add.Input[0] == node.Output[0] ? 1 : 0),
        _ => (null, 0),
    };

    private static bool Convert(GraphView graph, UniqueNames names, NodeProto holder, int index)
    {
        var bias = holder.InputOrEmpty(index);
        if (graph.Initializer(bias) is not { DataType: (int)DataType.Float } tensor || graph.Consumers(bias).Count != 1) return false;
        var values = TensorProtoConverter.ToNdArray(tensor);
        if (values.ElementCount < Fp16WeightConversion.DefaultMinElements || Fp16WeightConversion.ToHalves(values.ToFloats()) is not { } halves) return false;
        var halfName = names.Next($"{bias}.fp16");
        var floatName = names.Next($"{bias}.float");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(NdArray.Create<Half>(values.Shape, halves), halfName));
        graph.InsertBefore(holder, OnnxFactory.Node("Cast", [halfName], [floatName], names.Next($"{bias}.cast"), attributes: ("to", (int)DataType.Float)));
        graph.SetInput(holder, index, floatName);
        graph.RemoveInitializer(bias);
        return true;
    }
}
