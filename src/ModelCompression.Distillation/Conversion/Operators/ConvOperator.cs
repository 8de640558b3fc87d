using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>Conv (1-D and 2-D): groups, strides, dilations, pads (asymmetric ones applied explicitly), auto_pad.</summary>
internal sealed class ConvOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph)
    {
        // The kernel's rank: from the attribute, else from a constant weight (rank − 2); a computed weight is checked when run.
        var rank = node.GetInts("kernel_shape")?.Length ?? (graph.ConstantTensor(node.InputOrEmpty(1)) is { } weight ? weight.Dims.Count - 2 : 2);
        return SpatialWindow.Unsupported(node, rank);
    }

    public Tensor[] Run(OperatorCall call)
    {
        var (x, weight, bias) = (call.Input(0), call.Input(1), call.OptionalInput(2));
        var kernel = weight.shape[2..];
        if (kernel.Length is not (1 or 2))
            throw new NotSupportedException($"Conv node '{call.Node.Name}' has a {kernel.Length}-D kernel; only 1-D and 2-D run.");
        var window = SpatialWindow.Of(call.Node, kernel, x.shape);
        var groups = call.Node.GetInt("group", 1);
        if (kernel.Length == 1)
            return [OneDimensional.Lower(Conv2d(OneDimensional.Lift(x), weight.unsqueeze(2), bias, OneDimensional.Lift(window), groups))];
        return [Conv2d(x, weight, bias, window, groups)];
    }

    private static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, SpatialWindow window, long groups)
    {
        if (!window.SymmetricPads)
            return nn.functional.conv2d(window.Pad(x, 0), weight, bias, window.Strides, [0, 0], window.Dilations, groups);
        return nn.functional.conv2d(x, weight, bias, window.Strides, window.PadsBegin, window.Dilations, groups);
    }
}
