using ModelCompression.Distillation.Native;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>
/// TorchSharp's Adam (its defaults: no weight decay, amsgrad or maximize) with the step's numbers passed as Scalars
/// held during each call. TorchSharp's own step converts them to temporary Scalars that nothing holds (see
/// <see cref="HeldScalars"/>). The operations and their order are TorchSharp 0.107's, so the results are the same.
/// </summary>
internal sealed class HeldScalarAdam(IEnumerable<Parameter> parameters, double learningRate)
    : Adam(parameters, learningRate)
{
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var options = group.Options;
        if (options.weight_decay != 0 || options.amsgrad == true || options.maximize == true)
            throw new NotSupportedException("HeldScalarAdam computes Adam without weight decay, amsgrad or maximize only.");
        var (beta1, beta2) = (options.beta1!.Value, options.beta2!.Value);
        using var decay1 = beta1.ToScalar();
        using var decay2 = beta2.ToScalar();
        using var gain1 = (1.0 - beta1).ToScalar();
        using var gain2 = (1.0 - beta2).ToScalar();
        using var epsilon = options.eps!.Value.ToScalar();
        foreach (var parameter in group.Parameters)
        {
            if (parameter.grad is not { } gradient) continue;
            var state = (State)_state[parameter.Handle];
            state.step++;
            var correction1 = 1.0 - Math.Pow(beta1, state.step);
            var correction2 = 1.0 - Math.Pow(beta2, state.step);
            state.exp_avg.mul_(decay1).add_(gradient, gain1);
            state.exp_avg_sq.mul_(decay2).addcmul_(gradient, gradient.conj(), gain2);
            using var root = Math.Sqrt(correction2).ToScalar();
            var denominator = HeldScalars.PlusInPlace(state.exp_avg_sq.sqrt().div(root), epsilon);
            using var stepSize = (0.0 - options.LearningRate!.Value / correction1).ToScalar();
            parameter.addcdiv_(state.exp_avg, denominator, stepSize);
        }
    }, closure);
}
