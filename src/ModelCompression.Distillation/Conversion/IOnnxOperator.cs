using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion;

/// <summary>
/// One ONNX operator (or a tight family) run on TorchSharp tensors. Implementations stay differentiable in every float
/// input, so that gradients reach the trained weights through them.
/// </summary>
internal interface IOnnxOperator
{
    /// <summary>
    /// Why this node's form is not covered (e.g. an attribute value or a constant weight's rank), or null when it is.
    /// Checked once, at conversion; <paramref name="graph"/> is the node's graph, for its constants.
    /// </summary>
    string? Unsupported(NodeProto node, int opset, GraphView graph) => null;

    /// <summary>The node's outputs, in its output order (only as many as the node names).</summary>
    Tensor[] Run(OperatorCall call);
}

/// <summary>One execution of a node: its proto, the opset it is read under, and its input tensors (null where omitted).</summary>
internal sealed class OperatorCall(NodeProto node, int opset, IReadOnlyList<Tensor?> inputs)
{
    public NodeProto Node { get; } = node;

    public int Opset { get; } = opset;

    public int InputCount => inputs.Count;

    /// <summary>A required input.</summary>
    public Tensor Input(int index) =>
        index < inputs.Count && inputs[index] is { } tensor
            ? tensor
            : throw new InvalidDataException($"{Node.OpType} node '{Node.Name}' lacks its required input {index}.");

    /// <summary>An optional input: null when the node omits it (absent or empty name).</summary>
    public Tensor? OptionalInput(int index) => index < inputs.Count ? inputs[index] : null;

    /// <summary>The integer values of an optional input (axes, shapes, pads), or null when omitted.</summary>
    public long[]? OptionalLongs(int index) => OptionalInput(index) is { } tensor ? TensorValues.ToLongs(tensor) : null;

    public long[] Longs(int index) => TensorValues.ToLongs(Input(index));
}
