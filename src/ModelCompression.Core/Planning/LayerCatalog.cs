using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning;

/// <summary>Finds the layers the planner may quantize and the precisions each allows, given the techniques.</summary>
public static class LayerCatalog
{
    public static IReadOnlyList<LayerChoice> Find(ModelProto model, Technique techniques)
    {
        var layers = new List<LayerChoice>();
        foreach (var group in Int8WeightQuantization.Eligible(model).GroupBy(w => w.Node.Name))
        {
            var precisions = new HashSet<Precision> { Precision.Fp32 };
            if (techniques.HasFlag(Technique.Int8)) precisions.Add(Precision.Int8);
            if (precisions.Count == 1) continue;
            var node = group.First().Node;
            layers.Add(new LayerChoice(group.Key, node.OpType, group.Sum(w => TensorProtoConverter.ElementCount(w.Initializer)), precisions));
        }
        return layers;
    }
}
