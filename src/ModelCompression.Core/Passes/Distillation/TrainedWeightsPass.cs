using ModelCompression.Core.Distillation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Distillation;

/// <summary>
/// Puts the weights distillation trained in place of the initializers of the same names (same shapes, float32), before
/// the plan's storage steps quantize or palettize them. Cost: linear in the weights replaced.
/// </summary>
public sealed class TrainedWeightsPass(TrainedWeights weights) : IGraphPass
{
    public const string PassName = "distilled-weights";

    public string Name => PassName;

    /// <exception cref="ArgumentException">A trained weight names no float initializer of the model, or has another shape.</exception>
    public int Apply(ModelProto model)
    {
        var initializers = model.Graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        foreach (var (name, array) in weights.Arrays.OrderBy(w => w.Key, StringComparer.Ordinal))
        {
            if (!initializers.TryGetValue(name, out var initializer) || initializer.DataType != (int)DataType.Float)
                throw new ArgumentException($"the trained weight '{name}' names no float32 initializer of the model at this step");
            if (!initializer.Dims.SequenceEqual(array.Shape.ToArray()))
                throw new ArgumentException($"the trained weight '{name}' has shape [{string.Join(", ", array.Shape.ToArray())}], the model's [{string.Join(", ", initializer.Dims)}]");
            var index = model.Graph.Initializer.IndexOf(initializer);
            model.Graph.Initializer[index] = TensorProtoConverter.ToTensorProto(array, name);
        }
        return weights.Arrays.Count;
    }
}
