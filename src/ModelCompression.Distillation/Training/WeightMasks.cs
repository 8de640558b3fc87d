using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>
/// Keeps pruned weights pruned: every weight that is exactly zero when training starts gets a zero gradient (so Adam's
/// moments for it stay zero) and is set back to exactly zero after each step (against any drift, e.g. weight decay).
/// </summary>
internal sealed class WeightMasks : IDisposable
{
    private readonly List<(TorchSharp.Modules.Parameter Parameter, Tensor Mask)> _masks = [];

    public WeightMasks(IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        using var _ = no_grad();
        using var zero = 0.ToScalar();
        foreach (var parameter in parameters)
        {
            using var scope = NewDisposeScope();
            var mask = parameter.ne(zero).to_type(parameter.dtype);
            if (mask.sum().item<float>() < parameter.numel()) _masks.Add((parameter, mask.DetachFromDisposeScope()));
        }
    }

    public int Count => _masks.Count;

    public void MaskGradients()
    {
        using var _ = no_grad();
        foreach (var (parameter, mask) in _masks)
            parameter.grad?.mul_(mask);
    }

    public void ZeroPruned()
    {
        using var _ = no_grad();
        foreach (var (parameter, mask) in _masks)
            parameter.mul_(mask);
    }

    public void Dispose()
    {
        foreach (var (_, mask) in _masks) mask.Dispose();
        _masks.Clear();
    }
}
