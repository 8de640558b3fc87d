using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>
/// ReduceMean, ReduceSum, ReduceMax, ReduceMin: axes as an attribute until the opset that made them an input (13 for
/// ReduceSum, 18 for the others); none reduces every axis unless noop_with_empty_axes; keepdims by default.
/// </summary>
internal sealed class ReduceOperator(Func<Tensor, long[], bool, Tensor> reduce, int axesInputSince) : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var keep = call.Node.GetInt("keepdims", 1) == 1;
        var axes = call.Opset < axesInputSince ? call.Node.GetInts("axes") : call.OptionalLongs(1);
        if (axes is null || axes.Length == 0)
        {
            if (call.Node.GetInt("noop_with_empty_axes", 0) == 1) return [x.alias()];
            axes = Enumerable.Range(0, (int)x.dim()).Select(a => (long)a).ToArray();
        }
        return [reduce(x, Axes.Normalize(axes, x.dim()), keep)];
    }
}
