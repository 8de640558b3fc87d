using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>LeakyRelu: x for x ≥ 0, alpha·x otherwise (alpha 0.01 by default).</summary>
internal sealed class LeakyReluOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) =>
        [HeldScalars.With(call.Node.GetFloat("alpha", 0.01f), slope => call.Input(0).leaky_relu(slope))];
}

/// <summary>HardSigmoid: max(0, min(1, alpha·x + beta)), alpha 0.2 and beta 0.5 by default.</summary>
internal sealed class HardSigmoidOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call) =>
        [HardSigmoid(call.Input(0), call.Node.GetFloat("alpha", 0.2f), call.Node.GetFloat("beta", 0.5f))];

    public static Tensor HardSigmoid(Tensor x, double alpha, double beta)
    {
        var linear = HeldScalars.With(alpha, beta, (slope, offset) => HeldScalars.Plus(x.mul(slope), offset));
        return HeldScalars.With(0, 1, (low, high) => linear.clamp(low, high));
    }
}

/// <summary>HardSwish: x · HardSigmoid(x) with alpha 1/6 and beta 0.5.</summary>
internal sealed class HardSwishOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        return [x * HardSigmoidOperator.HardSigmoid(x, 1.0 / 6, 0.5)];
    }
}

/// <summary>Clip: bounds as attributes before opset 11, as optional scalar inputs from 11; an omitted bound is none.</summary>
internal sealed class ClipOperator : IOnnxOperator
{
    public Tensor[] Run(OperatorCall call)
    {
        var x = call.Input(0);
        Tensor? min, max;
        if (call.Opset < 11)
        {
            min = call.Node.Has("min") ? Bound(x, call.Node.GetFloat("min", 0)) : null;
            max = call.Node.Has("max") ? Bound(x, call.Node.GetFloat("max", 0)) : null;
        }
        else
        {
            min = call.OptionalInput(1);
            max = call.OptionalInput(2);
        }
        if (min is null && max is null) return [x.alias()];
        // clamp, not minimum/maximum: at a bound the gradient passes to x whole instead of being split with the bound.
        return [x.clamp(min, max)];
    }

    private static Tensor Bound(Tensor like, float value) => torch.tensor(value).to_type(like.dtype);
}
