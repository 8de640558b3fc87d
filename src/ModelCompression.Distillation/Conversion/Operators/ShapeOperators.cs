using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>Reshape: 0 copies the input's dimension (unless allowzero), −1 is inferred.</summary>
internal sealed class ReshapeOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph) => opset < 5 ? "Reshape before opset 5 (shape as attribute)" : null;

    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var shape = call.Longs(1);
        if (call.Node.GetInt("allowzero", 0) == 0)
            for (var i = 0; i < shape.Length; i++)
                if (shape[i] == 0) shape[i] = x.shape[i];
        return [x.reshape(shape)];
    }
}

/// <summary>Flatten: to 2-D, the axes before <c>axis</c> (default 1) forming the rows.</summary>
internal sealed class FlattenOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var axis = (int)Axes.Normalize(call.Node.GetInt("axis", 1), x.dim());
        var rows = x.shape.Take(axis).Aggregate(1L, (p, d) => p * d);
        var columns = x.shape.Skip(axis).Aggregate(1L, (p, d) => p * d);
        return [x.reshape(rows, columns)];
    }
}

/// <summary>Transpose: by <c>perm</c>, reversing the axes by default.</summary>
internal sealed class TransposeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var perm = call.Node.GetInts("perm") ?? Enumerable.Range(0, (int)x.dim()).Reverse().Select(a => (long)a).ToArray();
        return [x.permute(perm)];
    }
}

/// <summary>Concat along <c>axis</c>; empty inputs (size 0) join like any other.</summary>
internal sealed class ConcatOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var inputs = Enumerable.Range(0, call.InputCount).Select(call.Input).ToList();
        var axis = Axes.Normalize(call.Node.GetInt("axis", 0), inputs[0].dim());
        return [torch.cat(inputs, axis)];
    }
}

/// <summary>Squeeze: axes as an attribute before opset 13, as an optional input from 13; none removes every axis of length 1.</summary>
internal sealed class SqueezeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var axes = call.Opset < 13 ? call.Node.GetInts("axes") : call.OptionalLongs(1);
        if (axes is null) return [x.squeeze()];
        var result = x;
        foreach (var axis in Axes.Normalize(axes, x.dim()).OrderDescending()) result = result.squeeze(axis);
        return [result];
    }
}

/// <summary>Unsqueeze: axes (of the output) as an attribute before opset 13, as an input from 13.</summary>
internal sealed class UnsqueezeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var axes = call.Opset < 13
            ? call.Node.GetInts("axes") ?? throw new InvalidDataException($"Unsqueeze node '{call.Node.Name}' has no axes.")
            : call.Longs(1);
        var result = x;
        foreach (var axis in Axes.Normalize(axes, x.dim() + axes.Length).Order()) result = result.unsqueeze(axis);
        return [result];
    }
}

/// <summary>Shape: the input's dimensions as int64 (optionally a start..end range of them, opset 15).</summary>
internal sealed class ShapeOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var shape = call.Input(0).shape;
        var rank = shape.Length;
        var start = Math.Clamp(Axes.Normalize(call.Node.GetInt("start", 0), rank), 0, rank);
        var end = Math.Clamp(Axes.Normalize(call.Node.GetInt("end", rank), rank), 0, rank);
        return [torch.tensor(shape[(int)start..(int)Math.Max(start, end)], ScalarType.Int64)];
    }
}

/// <summary>Gather along <c>axis</c>: the indices' shape replaces that axis (a scalar index removes it); negative indices count from the end.</summary>
internal sealed class GatherOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var (data, indices) = (call.Input(0), call.Input(1));
        var axis = (int)Axes.Normalize(call.Node.GetInt("axis", 0), data.dim());
        var length = data.shape[axis];
        var positive = indices.to_type(ScalarType.Int64);
        using (var zero = 0L.ToScalar())
        using (var count = length.ToScalar())
            positive = torch.where(positive.lt(zero), HeldScalars.Plus(positive, count), positive);
        var picked = data.index_select(axis, positive.flatten());
        long[] shape = [.. data.shape[..axis], .. indices.shape, .. data.shape[(axis + 1)..]];
        return [picked.reshape(shape)];
    }
}

/// <summary>Cast to the element type <c>to</c> (float to integer truncates toward zero, as in ONNX).</summary>
internal sealed class CastOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph) =>
        TensorValues.ScalarTypeOf((DataType)node.GetInt("to", 0)) is null ? $"Cast to {(DataType)node.GetInt("to", 0)}" : null;

    public Tensor[] Run(OperatorCall call) =>
        [call.Input(0).to_type(TensorValues.ScalarTypeOf((DataType)call.Node.GetInt("to", 0))!.Value)];
}
