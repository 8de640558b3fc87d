using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>MaxPool (1-D and 2-D): strides, dilations, pads, auto_pad, ceil_mode. Padding never wins a maximum.</summary>
internal sealed class MaxPoolOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph) =>
        node.Output.Count > 1 && node.Output[1].Length > 0
            ? "MaxPool with an Indices output"
            : SpatialWindow.Unsupported(node, node.GetInts("kernel_shape")?.Length ?? 0);

    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var window = SpatialWindow.Of(call.Node, call.Node.GetInts("kernel_shape")!, x.shape);
        var ceil = call.Node.GetInt("ceil_mode", 0) == 1;
        return window.Rank == 1
            ? [OneDimensional.Lower(Pool(OneDimensional.Lift(x), OneDimensional.Lift(window), ceil))]
            : [Pool(x, window, ceil)];
    }

    private static Tensor Pool(Tensor x, SpatialWindow window, bool ceil) =>
        window.NativePadding
            ? nn.functional.max_pool2d(x, window.Kernel, window.Strides, window.PadsBegin, window.Dilations, ceil)
            : nn.functional.max_pool2d(window.Pad(x, double.NegativeInfinity), window.Kernel, window.Strides, [0, 0], window.Dilations, ceil);
}

/// <summary>AveragePool (1-D and 2-D): strides, pads, auto_pad, ceil_mode, count_include_pad.</summary>
internal sealed class AveragePoolOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph) =>
        node.GetInts("dilations") is { } d && d.Any(v => v != 1)
            ? "AveragePool with dilations"
            : SpatialWindow.Unsupported(node, node.GetInts("kernel_shape")?.Length ?? 0);

    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var window = SpatialWindow.Of(call.Node, call.Node.GetInts("kernel_shape")!, x.shape);
        var ceil = call.Node.GetInt("ceil_mode", 0) == 1;
        var includePad = call.Node.GetInt("count_include_pad", 0) == 1;
        return window.Rank == 1
            ? [OneDimensional.Lower(Pool(OneDimensional.Lift(x), OneDimensional.Lift(window), ceil, includePad))]
            : [Pool(x, window, ceil, includePad)];
    }

    private static Tensor Pool(Tensor x, SpatialWindow window, bool ceil, bool includePad)
    {
        if (window.NativePadding)
            return nn.functional.avg_pool2d(x, window.Kernel, window.Strides, window.PadsBegin, ceil, includePad);
        var padded = window.Pad(x, 0);
        var sums = nn.functional.avg_pool2d(padded, window.Kernel, window.Strides, [0, 0], ceil, count_include_pad: true);
        if (includePad) return sums;
        // Divide by the real elements of each window only: the same pooling over a mask of the unpadded input counts them.
        var mask = window.Pad(ones_like(x), 0);
        var counts = nn.functional.avg_pool2d(mask, window.Kernel, window.Strides, [0, 0], ceil, count_include_pad: true);
        return sums / counts;
    }
}

/// <summary>GlobalAveragePool and GlobalMaxPool: over every spatial axis, keeping them as 1.</summary>
internal sealed class GlobalPoolOperator(bool maximum) : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var spatial = Enumerable.Range(2, (int)x.dim() - 2).Select(a => (long)a).ToArray();
        return [maximum ? x.amax(spatial, keepdim: true) : x.mean(spatial, keepdim: true)];
    }
}
