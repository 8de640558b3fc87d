using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>
/// Slice: starts/ends/axes as attributes before opset 10, as inputs (with steps) from 10. Bounds are clamped as ONNX
/// says; negative steps walk backwards.
/// </summary>
internal sealed class SliceOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var rank = x.dim();
        long[] starts, ends, axes, steps;
        if (call.Opset < 10)
        {
            starts = call.Node.GetInts("starts") ?? [];
            ends = call.Node.GetInts("ends") ?? [];
            axes = call.Node.GetInts("axes") ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
            steps = Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        else
        {
            starts = call.Longs(1);
            ends = call.Longs(2);
            axes = call.OptionalLongs(3) ?? Enumerable.Range(0, starts.Length).Select(a => (long)a).ToArray();
            steps = call.OptionalLongs(4) ?? Enumerable.Repeat(1L, starts.Length).ToArray();
        }
        var result = x;
        for (var i = 0; i < starts.Length; i++)
            result = SliceAxis(result, Axes.Normalize(axes[i], rank), starts[i], ends[i], steps[i]);
        return [result];
    }

    private static Tensor SliceAxis(Tensor x, long axis, long start, long end, long step)
    {
        var length = x.shape[axis];
        if (start < 0) start += length;
        if (end < 0) end += length;
        if (step > 0)
        {
            start = Math.Clamp(start, 0, length);
            end = Math.Clamp(end, 0, length);
            return x.slice(axis, start, Math.Max(start, end), step);
        }
        start = Math.Clamp(start, 0, length - 1);
        end = Math.Clamp(end, -1, length - 1);
        // TorchSharp slices only forwards: pick the positions start, start+step, ... (> end) explicitly.
        if (start <= end) return x.index_select(axis, torch.empty(0, ScalarType.Int64));
        return x.index_select(axis, HeldScalars.Arange(start, end, step, ScalarType.Int64));
    }
}
