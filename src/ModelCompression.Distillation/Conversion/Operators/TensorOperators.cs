using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>
/// Pad: pads (begins then ends, negative crops) as an attribute before opset 11, as an input from 11 (with an optional
/// value and, from 18, axes). Modes constant, reflect and edge.
/// </summary>
internal sealed class PadOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph) =>
        node.GetString("mode", "constant") is "constant" or "reflect" or "edge" ? null : $"Pad in mode {node.GetString("mode", "")}";

    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var rank = (int)x.dim();
        var mode = call.Node.GetString("mode", "constant");
        long[] pads;
        double value;
        if (call.Opset < 11)
        {
            pads = call.Node.GetInts("pads") ?? new long[2 * rank];
            value = call.Node.GetFloat("value", 0f);
        }
        else
        {
            var given = call.Longs(1);
            value = call.OptionalInput(2) is { } constant ? constant.to_type(ScalarType.Float64).item<double>() : 0;
            var axes = call.OptionalLongs(3) is { } a ? Axes.Normalize(a, rank) : Enumerable.Range(0, rank).Select(i => (long)i).ToArray();
            pads = new long[2 * rank];
            for (var i = 0; i < axes.Length; i++)
            {
                pads[axes[i]] = given[i];
                pads[rank + axes[i]] = given[axes.Length + i];
            }
        }
        // TorchSharp lists (begin, end) from the last axis backwards, and only as far as the first padded axis.
        var first = Enumerable.Range(0, rank).FirstOrDefault(i => pads[i] != 0 || pads[rank + i] != 0, rank);
        var torchPads = Enumerable.Range(first, rank - first).Reverse().SelectMany(i => new[] { pads[i], pads[rank + i] }).ToArray();
        if (torchPads.Length == 0) return [x.alias()];
        return mode switch
        {
            "reflect" => [nn.functional.pad(x, torchPads, PaddingModes.Reflect)],
            "edge" => [nn.functional.pad(x, torchPads, PaddingModes.Replicate)],
            _ => [nn.functional.pad(x, torchPads, PaddingModes.Constant, value)],
        };
    }
}

/// <summary>Expand: broadcasts the input and the given shape against each other (numpy rules, both ways).</summary>
internal sealed class ExpandOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var shape = call.Longs(1);
        var rank = Math.Max(shape.Length, (int)x.dim());
        var target = new long[rank];
        for (var i = 0; i < rank; i++)
        {
            var a = i - (rank - (int)x.dim()) is var ai && ai >= 0 ? x.shape[ai] : 1;
            var b = i - (rank - shape.Length) is var bi && bi >= 0 ? shape[bi] : 1;
            target[i] = a == 1 ? b : a;
        }
        return [x.expand(target)];
    }
}

/// <summary>Tile: repeats the input along each axis.</summary>
internal sealed class TileOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) => [call.Input(0).tile(call.Longs(1))];
}

/// <summary>Where: elements of X where the condition holds, of Y elsewhere (broadcasting).</summary>
internal sealed class WhereOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) => [torch.where(call.Input(0).to_type(ScalarType.Bool), call.Input(1), call.Input(2))];
}

/// <summary>ConstantOfShape: a tensor of the given shape filled with <c>value</c> (a one-element tensor; float 0 by default).</summary>
internal sealed class ConstantOfShapeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var shape = call.Longs(0);
        var fill = call.Node.Find("value")?.T is { } tensor
            ? TensorValues.ToTensor(TensorProtoConverter.ToNdArray(tensor))
            : torch.zeros(1, ScalarType.Float32);
        return [fill.reshape([]).expand(shape).contiguous()];
    }
}

/// <summary>
/// Split along <c>axis</c>: sizes as an attribute before opset 13, as an input from 13; otherwise equal parts (from 18,
/// <c>num_outputs</c> parts of ⌈length / n⌉ with a shorter last one).
/// </summary>
internal sealed class SplitOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var axis = Axes.Normalize(call.Node.GetInt("axis", 0), x.dim());
        var sizes = call.Opset < 13 ? call.Node.GetInts("split") : call.OptionalLongs(1);
        if (sizes is null)
        {
            var parts = call.Node.Has("num_outputs") ? call.Node.GetInt("num_outputs", 1) : call.Node.Output.Count;
            var length = x.shape[axis];
            return x.split((length + parts - 1) / parts, axis);
        }
        return x.split(sizes, axis);
    }
}

/// <summary>Size: the element count as an int64 scalar.</summary>
internal sealed class SizeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) => [torch.tensor(call.Input(0).numel(), ScalarType.Int64)];
}

/// <summary>Range: start, start + delta, ... up to (not including) limit, in the inputs' element type.</summary>
internal sealed class RangeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var start = call.Input(0);
        double Read(int i) => call.Input(i).to_type(ScalarType.Float64).item<double>();
        return [start.is_floating_point()
            ? HeldScalars.Arange(Read(0), Read(1), Read(2), start.dtype)
            : HeldScalars.Arange(call.Longs(0)[0], call.Longs(1)[0], call.Longs(2)[0], start.dtype)];
    }
}
