using ModelCompression.Core.Distillation;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Distillation.Native;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>
/// What a trained weight looks like after the plan's later quantization or palettization step, so that training sees
/// that rounding: the forward pass reads q(w) + (w − w.detach()), whose value is q(w) and whose gradient passes
/// straight through to w (straight-through estimator, Bengio et al. 2013).
/// </summary>
/// <remarks>
/// <para>The weight's rows are its output channels (<see cref="WeightQuantization.ChannelAxis"/>, 0 unless told otherwise:
/// Conv [O, I, k…] and Gemm with transB), each row the other axes flattened (the input axis).</para>
/// <para>Per channel (no block size): symmetric codes in [−qmax, qmax] with scale max|w| / qmax per row, qmax 127 or 7 —
/// Core's <c>PerChannelQuantizer</c>, recomputed at every step.</para>
/// <para>Block-wise int4: codes −8..7 with one scale per block of a row, the scales fitted as Core's int4 pass fits them
/// (<see cref="BlockQuantizer"/>, symmetric, its clipping search, the block size of
/// <see cref="Int4WeightQuantization.BlockSizeFor(long, int)"/>); block-wise int8: max|w| / 127 per block.</para>
/// <para>Palette: one per tensor, each value reads the nearest of k centroids fitted by Core's deterministic
/// <see cref="KMeans1D"/>.</para>
/// <para>Fitted scales and palettes follow the weight once per epoch (<see cref="Refresh"/>), not at every step (the
/// fits are costly); the codes follow it at every step.</para>
/// </remarks>
public sealed class FakeQuantizer : IDisposable
{
    private readonly WeightQuantization _quantization;
    private Tensor? _centroids;   // palette, ascending
    private Tensor? _boundaries;  // midpoints between neighbouring centroids
    private Tensor? _blockScales; // int4 blocks: [rows, blocks, 1]
    private int _blockSize;

    public FakeQuantizer(WeightQuantization quantization)
    {
        if (quantization.PaletteSize > 0 ? quantization.PaletteSize < 1 : quantization.Bits is not (4 or 8))
            throw new ArgumentException($"Fake quantization covers int8, int4 and palettes, not {quantization}.", nameof(quantization));
        if (quantization.BlockSize < 0 || quantization.ChannelAxis < 0)
            throw new ArgumentException($"Block size and channel axis cannot be negative: {quantization}.", nameof(quantization));
        if (quantization is { PaletteSize: 0, Bits: 4, BlockSize: > 0 } && (quantization.BlockSize < 16 || (quantization.BlockSize & (quantization.BlockSize - 1)) != 0))
            throw new ArgumentException($"Int4 blocks are a power of two of at least 16 (ONNX Runtime's MatMulNBits), not {quantization.BlockSize}.", nameof(quantization));
        _quantization = quantization;
    }

    private bool IsPalette => _quantization.PaletteSize > 0;

    private bool HasFittedBlocks => _quantization is { PaletteSize: 0, Bits: 4, BlockSize: > 0 };

    /// <summary>Fits the palette or the int4 block scales to the weight's current values (nothing to fit otherwise). Once per epoch.</summary>
    public void Refresh(Tensor weight)
    {
        if (!IsPalette && !HasFittedBlocks) return;
        float[] values;
        long rows;
        using (no_grad())
        using (NewDisposeScope())
        {
            var channelsFirst = ChannelsFirst(weight.detach());
            rows = channelsFirst.shape[0];
            values = channelsFirst.contiguous().cpu().data<float>().ToArray();
        }
        DisposeFits();
        if (IsPalette) FitPalette(values);
        else FitBlocks(values, (int)rows);
    }

    /// <summary>The rounded weight q(w), without gradient.</summary>
    public Tensor Quantize(Tensor weight)
    {
        using var _ = no_grad();
        if (IsPalette) return Palette(weight.detach());
        if (weight.dim() < 1) return weight.detach().clone();
        using var scope = NewDisposeScope();
        var channelsFirst = ChannelsFirst(weight.detach());
        var rows = channelsFirst.reshape(channelsFirst.shape[0], -1);
        var rounded = HasFittedBlocks ? FittedBlocks(rows) : MaxScaled(rows);
        return rounded.reshape(channelsFirst.shape).movedim([0L], [(long)_quantization.ChannelAxis]).contiguous().MoveToOuterDisposeScope();
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
        return HeldScalars.Plus(quantized, zero);
    }

    public void Dispose() => DisposeFits();

    private Tensor ChannelsFirst(Tensor weight)
    {
        var axis = _quantization.ChannelAxis;
        if (weight.dim() == 0) return weight.reshape(1, 1);
        if (axis >= weight.dim()) throw new ArgumentException($"A weight of shape [{string.Join(", ", weight.shape)}] has no channel axis {axis}.");
        return weight.movedim([(long)axis], [0L]);
    }

    private void FitPalette(float[] values)
    {
        var centroids = KMeans1D.Fit(values, _quantization.PaletteSize);
        if (centroids.Length == 0) centroids = [0f];
        var boundaries = centroids.Zip(centroids.Skip(1), (a, b) => (a + b) / 2).ToArray();
        _centroids = tensor(centroids).DetachFromDisposeScope();
        _boundaries = tensor(boundaries, [boundaries.Length]).DetachFromDisposeScope();
    }

    private void FitBlocks(float[] values, int rows)
    {
        var columns = values.Length / rows;
        _blockSize = Int4WeightQuantization.BlockSizeFor(columns, _quantization.BlockSize);
        var fitted = BlockQuantizer.Quantize(values, rows, columns, _blockSize, symmetric: true);
        _blockScales = tensor(fitted.Scales, [rows, fitted.Blocks, 1]).DetachFromDisposeScope();
    }

    private Tensor Palette(Tensor weight)
    {
        if (_centroids is null || _boundaries is null)
            throw new InvalidOperationException("The palette is fitted by Refresh before the first forward pass.");
        using var indices = bucketize(weight, _boundaries);
        return _centroids[indices];
    }

    // Codes −8..7 on the fitted block scales (a scale may be negative: the block's extreme then maps to −8).
    private Tensor FittedBlocks(Tensor rows)
    {
        if (_blockScales is null) throw new InvalidOperationException("The block scales are fitted by Refresh before the first forward pass.");
        var blocks = Blocks(rows, _blockSize);
        var rounded = HeldScalars.With(-8, 7, (low, high) => (blocks / _blockScales).round().clamp(low, high)) * _blockScales;
        return Unblocked(rounded, rows.shape[1]);
    }

    // Symmetric codes in [−qmax, qmax], scale max|w| / qmax per row or per block.
    private Tensor MaxScaled(Tensor rows)
    {
        var qmax = (1 << (_quantization.Bits - 1)) - 1; // 127 for int8, 7 for int4
        var columns = rows.shape[1];
        var blocks = Blocks(rows, _quantization.BlockSize > 0 ? Math.Min(_quantization.BlockSize, columns) : columns);
        var extreme = blocks.abs().amax([-1], keepdim: true);
        var scale = HeldScalars.With(0, qmax, (zero, top) => where(extreme.gt(zero), extreme.div(top), ones_like(extreme))); // an all-zero block: any scale reproduces it
        return Unblocked(HeldScalars.With(-qmax, qmax, (low, high) => (blocks / scale).round().clamp(low, high)) * scale, columns);
    }

    // [rows, columns] → [rows, blocks, block], the last block padded with zeros (which never raise a block's max|w|).
    private static Tensor Blocks(Tensor rows, long block)
    {
        var padding = (block - rows.shape[1] % block) % block;
        return (padding > 0 ? nn.functional.pad(rows, [0, padding]) : rows).reshape(rows.shape[0], -1, block);
    }

    private static Tensor Unblocked(Tensor blocks, long columns) => blocks.reshape(blocks.shape[0], -1).narrow(1, 0, columns);

    private void DisposeFits()
    {
        _centroids?.Dispose();
        _boundaries?.Dispose();
        _blockScales?.Dispose();
        _centroids = _boundaries = _blockScales = null;
    }
}
