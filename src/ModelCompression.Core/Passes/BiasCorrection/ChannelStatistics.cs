using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>
/// Running per-channel sums of a layer output over every sample and position (all axes but the channel axis), in
/// double precision: the means and variances bias correction needs, without keeping any values.
/// </summary>
internal sealed class ChannelStatistics(int channelAxis)
{
    private double[]? _sums;
    private double[]? _squares;

    public int? Channels => _sums?.Length;

    /// <summary>Values seen per channel.</summary>
    public long Count { get; private set; }

    /// <summary>A batch of the layer's output. False when its channel count differs from earlier batches'.</summary>
    public bool Add(NdArray output)
    {
        var shape = output.Shape;
        var axis = channelAxis < 0 ? channelAxis + shape.Length : channelAxis;
        if (axis < 0 || axis >= shape.Length) return false;
        var channels = (int)shape[axis];
        long outer = 1, inner = 1;
        for (var i = 0; i < axis; i++) outer *= shape[i];
        for (var i = axis + 1; i < shape.Length; i++) inner *= shape[i];
        _sums ??= new double[channels];
        _squares ??= new double[channels];
        if (_sums.Length != channels) return false;
        var values = output.AsSpan<float>();
        for (long o = 0; o < outer; o++)
            for (var c = 0; c < channels; c++)
            {
                var run = values.Slice((int)((o * channels + c) * inner), (int)inner);
                double sum = 0, squares = 0;
                foreach (var v in run)
                {
                    sum += v;
                    squares += (double)v * v;
                }
                _sums[c] += sum;
                _squares[c] += squares;
            }
        Count += outer * inner;
        return true;
    }

    public double[] Means() => _sums is null ? [] : _sums.Select(s => s / Count).ToArray();

    /// <summary>The mean over channels of each channel's variance: the power of the signal around its means.</summary>
    public double MeanVariance()
    {
        if (_sums is null || Count == 0) return 0;
        double total = 0;
        for (var c = 0; c < _sums.Length; c++)
        {
            var mean = _sums[c] / Count;
            total += Math.Max(0, _squares![c] / Count - mean * mean);
        }
        return total / _sums.Length;
    }
}
