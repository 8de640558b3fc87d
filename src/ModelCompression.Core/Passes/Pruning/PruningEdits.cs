using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// A constant input of <paramref name="Node"/> (weights, bias, BatchNorm parameter, per-channel operand) that loses
/// the positions of removed channels along <paramref name="Axis"/>; <paramref name="Ids"/> gives the channel at each
/// position. <paramref name="IsWeight"/> marks Conv/Gemm/MatMul weights, the tensors importance is scored on.
/// </summary>
internal sealed record TensorSlice(NodeProto Node, int Input, int Axis, int[] Ids, bool IsWeight);

/// <summary>A depthwise Conv whose <c>group</c> attribute is its channel count, which shrinks with <paramref name="Ids"/>.</summary>
internal sealed record GroupAttribute(NodeProto Node, int[] Ids);

/// <summary>
/// One entry of a Reshape target shape that names the size of the axis holding channels (<paramref name="Ids"/>):
/// element <paramref name="Element"/> of the integer constant read as input <paramref name="Input"/> of
/// <paramref name="Reader"/> (the Reshape itself, or a Concat/Cast building its shape).
/// </summary>
internal sealed record ShapeEntry(NodeProto Reader, int Input, int Element, int[] Ids);
