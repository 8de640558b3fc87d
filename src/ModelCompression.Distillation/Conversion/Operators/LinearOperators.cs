using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>Gemm: alpha·A'·B' + beta·C with A', B' optionally transposed and C broadcast (optional from opset 11).</summary>
internal sealed class GemmOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var a = call.Input(0);
        var b = call.Input(1);
        if (call.Node.GetInt("transA", 0) == 1) a = a.t();
        if (call.Node.GetInt("transB", 0) == 1) b = b.t();
        var alpha = call.Node.GetFloat("alpha", 1f);
        var beta = call.Node.GetFloat("beta", 1f);
        var product = a.matmul(b);
        if (alpha != 1f) product = HeldScalars.With(alpha, scale => product.mul(scale));
        if (call.OptionalInput(2) is not { } c) return [product];
        return [HeldScalars.Plus(product, beta == 1f ? c : HeldScalars.With(beta, weight => c.mul(weight)))];
    }
}

/// <summary>BatchNormalization in its inference form: (x − mean) / √(var + ε) · scale + bias per channel (axis 1).</summary>
internal sealed class BatchNormalizationOperator : IOnnxOperator
{
    public string? Unsupported(NodeProto node, int opset, GraphView graph) =>
        node.Output.Skip(1).Any(o => o.Length > 0) || node.GetInt("training_mode", 0) == 1
            ? "BatchNormalization in training mode (running statistics as outputs)"
            : null;

    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var channelShape = new long[x.dim()];
        Array.Fill(channelShape, 1L);
        channelShape[1] = -1;
        Tensor PerChannel(int input) => call.Input(input).reshape(channelShape);
        using var epsilon = call.Node.GetFloat("epsilon", 1e-5f).ToScalar();
        var normalized = (x - PerChannel(3)) / HeldScalars.Plus(PerChannel(4), epsilon).sqrt();
        return [HeldScalars.Plus(normalized * PerChannel(1), PerChannel(2))];
    }
}

/// <summary>Softmax and LogSoftmax: before opset 13 over the input coerced to 2-D at axis (default 1), from 13 over one axis (default −1).</summary>
internal sealed class SoftmaxOperator(bool logarithm) : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        var rank = x.dim();
        if (call.Opset >= 13)
            return [Apply(x, Axes.Normalize(call.Node.GetInt("axis", -1), rank))];
        var axis = Axes.Normalize(call.Node.GetInt("axis", 1), rank);
        var shape = x.shape;
        var outer = shape.Take((int)axis).Aggregate(1L, (p, d) => p * d);
        return [Apply(x.reshape(outer, -1), 1).reshape(shape)];
    }

    private Tensor Apply(Tensor x, long dim) => logarithm ? x.log_softmax(dim) : x.softmax(dim);
}
