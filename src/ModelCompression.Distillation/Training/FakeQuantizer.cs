using ModelCompression.Core.Distillation;
using ModelCompression.Core.Passes.Palettization;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>
/// What a trained weight looks like after the plan's later quantization or palettization step, so that training sees
/// that rounding: the forward pass reads q(w) + (w − w.detach()), whose value is q(w) and whose gradient passes
/// straight through to w (straight-through estimator, Bengio et al. 2013).
/// </summary>
/// <remarks>
/// Integer codes are symmetric (zero point 0) with one scale max|w| / qmax per output channel
/// (<see cref="WeightQuantization.ChannelAxis"/>, 0 unless told otherwise: Conv [O, I, k…] and Gemm with transB), or per
/// block of <see cref="WeightQuantization.BlockSize"/> consecutive elements of a channel (the input axes, flattened) —
/// the same rounding as Core's <c>PerChannelQuantizer</c> (round half to even, codes in [−qmax, qmax]). A palette is
/// one per tensor: each value reads the nearest of k centroids fitted by Core's deterministic <see cref="KMeans1D"/>;
/// the centroids follow the training weight once per epoch (<see cref="Refresh"/>), not every step (k-means is costly).
/// </remarks>
public sealed class FakeQuantizer : IDisposable
{
    private readonly WeightQuantization _quantization;
    private Tensor? _centroids;   // palette, ascending
    private Tensor? _boundaries;  // midpoints between neighbouring centroids

    public FakeQuantizer(WeightQuantization quantization)
    {
        if (quantization.PaletteSize > 0 ? quantization.PaletteSize < 1 : quantization.Bits is not (4 or 8))
            throw new ArgumentException($"Fake quantization covers int8, int4 and palettes, not {quantization}.", nameof(quantization));
        if (quantization.BlockSize < 0 || quantization.ChannelAxis < 0)
            throw new ArgumentException($"Block size and channel axis cannot be negative: {quantization}.", nameof(quantization));
        _quantization = quantization;
    }

    public bool IsPalette => _quantization.PaletteSize > 0;

    /// <summary>Fits the palette to the weight's current values (a no-op for integer quantization). Call once per epoch.</summary>
    public void Refresh(Tensor weight)
    {
        if (!IsPalette) return;
        float[] values;
        using (no_grad())
        using (NewDisposeScope())
            values = weight.detach().flatten().cpu().data<float>().ToArray();
        var centroids = KMeans1D.Fit(values, _quantization.PaletteSize);
        if (centroids.Length == 0) centroids = [0f];
        var boundaries = centroids.Zip(centroids.Skip(1), (a, b) => (a + b) / 2).ToArray();
        DisposePalette();
        _centroids = tensor(centroids).DetachFromDisposeScope();
        _boundaries = tensor(boundaries, [boundaries.Length]).DetachFromDisposeScope();
    }

    /// <summary>The rounded weight q(w), without gradient.</summary>
    public Tensor Quantize(Tensor weight)
    {
        using var _ = no_grad();
        return IsPalette ? Palette(weight.detach()) : Integer(weight.detach());
    }

    /// <summary>
    /// q(w) forward, identity backward: q(w) + (w − w.detach()), the same as w + (q(w) − w).detach() but exact in floating
    /// point (the added term is exactly zero), so the forward pass reads exactly the stored values.
    /// </summary>
    public Tensor StraightThrough(Tensor weight)
    {
        using var quantized = Quantize(weight);
        using var detached = weight.detach();
        using var zero = weight - detached;
        return quantized + zero;
    }

    public void Dispose() => DisposePalette();

    private Tensor Palette(Tensor weight)
    {
        if (_centroids is null || _boundaries is null)
            throw new InvalidOperationException("The palette is fitted by Refresh before the first forward pass.");
        using var indices = bucketize(weight, _boundaries);
        return _centroids[indices];
    }

    private Tensor Integer(Tensor weight)
    {
        var qmax = (1 << (_quantization.Bits - 1)) - 1; // 127 for int8, 7 for int4
        if (weight.dim() < 1) return weight.clone();
        var axis = _quantization.ChannelAxis;
        if (axis >= weight.dim()) throw new ArgumentException($"Weight of shape [{string.Join(", ", weight.shape)}] has no channel axis {axis}.");
        using var scope = NewDisposeScope();
        var channelsFirst = weight.movedim([(long)axis], [0L]);
        var channels = channelsFirst.shape[0];
        var rows = channelsFirst.reshape(channels, -1);
        var columns = rows.shape[1];
        var block = _quantization.BlockSize > 0 ? Math.Min(_quantization.BlockSize, columns) : columns;
        var padding = (block - columns % block) % block; // zeros never raise a block's max|w|
        var blocks = (padding > 0 ? nn.functional.pad(rows, [0, padding]) : rows).reshape(channels, -1, block);
        var extreme = blocks.abs().amax([-1], keepdim: true);
        var scale = where(extreme > 0, extreme / qmax, ones_like(extreme)); // an all-zero block: any scale reproduces it
        var rounded = (blocks / scale).round().clamp(-qmax, qmax) * scale;
        var back = rounded.reshape(channels, -1).narrow(1, 0, columns).reshape(channelsFirst.shape).movedim([0L], [(long)axis]).contiguous();
        return back.MoveToOuterDisposeScope();
    }

    private void DisposePalette()
    {
        _centroids?.Dispose();
        _boundaries?.Dispose();
        _centroids = _boundaries = null;
    }
}
