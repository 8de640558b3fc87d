using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>A trainable model: what the trainer needs of a converted ONNX graph.</summary>
public interface IStudent : IDisposable
{
    /// <summary>The graph's inputs by name, in its declared order.</summary>
    IReadOnlyList<string> InputNames { get; }

    /// <summary>The graph's outputs by name, in its declared order.</summary>
    IReadOnlyList<string> OutputNames { get; }

    /// <summary>The trained weights by initializer name (requires_grad); every other constant is fixed.</summary>
    IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> Parameters { get; }

    /// <summary>Runs the graph; outputs in <see cref="OutputNames"/> order.</summary>
    IReadOnlyList<Tensor> Forward(IReadOnlyDictionary<string, Tensor> inputs);

    /// <summary>
    /// How <see cref="Forward"/> reads a trained weight (e.g. fake quantization with a straight-through gradient);
    /// null reads it as it is.
    /// </summary>
    void SetWeightTransform(string initializer, Func<Tensor, Tensor>? transform);
}
