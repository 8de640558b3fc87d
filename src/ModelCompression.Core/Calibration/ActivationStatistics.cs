namespace ModelCompression.Core.Calibration;

/// <summary>
/// What calibration observed of one activation tensor over all samples, in bounded memory: the
/// running minimum and maximum of its finite values and, when a method needs it, a histogram of
/// those values over the fixed symmetric range [−Bound, Bound] known after the first pass.
/// Non-finite values (e.g. a −inf attention mask) are not counted: a grid cannot represent them anyway.
/// </summary>
public sealed class ActivationStatistics
{
    /// <summary>Histogram bins on each side of zero: 2048 as TensorRT, fine enough for a 128-level grid.</summary>
    public const int DefaultBinsPerSide = 2048;

    private long[]? _histogram;

    public ActivationStatistics(string tensor) => Tensor = tensor;

    public string Tensor { get; }

    /// <summary>The smallest finite value seen; +∞ before any.</summary>
    public float Min { get; private set; } = float.PositiveInfinity;

    /// <summary>The largest finite value seen; −∞ before any.</summary>
    public float Max { get; private set; } = float.NegativeInfinity;

    /// <summary>The number of finite values seen.</summary>
    public long Count { get; private set; }

    /// <summary>max(|Min|, |Max|): the histogram covers [−Bound, Bound]; 0 when nothing was seen.</summary>
    public float Bound => Count == 0 ? 0 : Math.Max(Math.Abs(Min), Math.Abs(Max));

    /// <summary>Bins per side of the histogram; 0 when there is none.</summary>
    public int BinsPerSide => _histogram is null ? 0 : _histogram.Length / 2;

    /// <summary>
    /// The counts of the histogram: bin k covers [−Bound + k·w, −Bound + (k+1)·w) with w = Bound / <see cref="BinsPerSide"/>
    /// (the last bin includes Bound); empty when none was collected.
    /// </summary>
    public ReadOnlySpan<long> Histogram => _histogram;

    public bool HasHistogram => _histogram is not null;

    /// <summary>The observed range [Min, Max] (0..0 when nothing finite was seen).</summary>
    public ActivationRange ObservedRange => Count == 0 ? new ActivationRange(0, 0) : new ActivationRange(Min, Max);

    /// <summary>First pass: extends the running minimum and maximum.</summary>
    public void AddRange(ReadOnlySpan<float> values)
    {
        float min = Min, max = Max;
        long count = 0;
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) continue;
            if (v < min) min = v;
            if (v > max) max = v;
            count++;
        }
        Min = min;
        Max = max;
        Count += count;
    }

    /// <summary>
    /// Starts the second pass: a histogram over [−Bound, Bound], fixed now that the first pass knows the range.
    /// Two passes cost a second run over the samples, but every bin has the same width and every count is
    /// exact (a mergeable histogram that widens as new extremes arrive must re-bin and blur what it saw),
    /// and integer counts make the result independent of how samples are batched.
    /// </summary>
    public void StartHistogram(int binsPerSide = DefaultBinsPerSide)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(binsPerSide, 256);
        _histogram = new long[2 * binsPerSide];
    }

    /// <summary>Second pass: counts finite values into the histogram (values beyond the first pass's range go to the end bins).</summary>
    public void AddToHistogram(ReadOnlySpan<float> values)
    {
        var histogram = _histogram ?? throw new InvalidOperationException($"Call {nameof(StartHistogram)} first.");
        var bound = Bound;
        var last = histogram.Length - 1;
        if (bound <= 0)
        {
            // Everything seen was 0: it sits at the boundary between the two halves.
            foreach (var v in values)
                if (float.IsFinite(v)) histogram[histogram.Length / 2]++;
            return;
        }
        var binsPerUnit = histogram.Length / (2.0 * bound);
        foreach (var v in values)
        {
            if (!float.IsFinite(v)) continue;
            var bin = (int)Math.Clamp((v + (double)bound) * binsPerUnit, 0, last);
            histogram[bin]++;
        }
    }

    /// <summary>The magnitudes of the negative and of the non-negative values as two histograms: bin k covers |x| in [k·w, (k+1)·w), w = Bound / <see cref="BinsPerSide"/>.</summary>
    public (long[] Negative, long[] Positive) SideHistograms()
    {
        var histogram = _histogram ?? throw new InvalidOperationException($"'{Tensor}' has no histogram.");
        var half = histogram.Length / 2;
        var negative = new long[half];
        for (var k = 0; k < half; k++) negative[k] = histogram[half - 1 - k];
        return (negative, histogram[half..]);
    }

    /// <summary>The histogram of |x|: bin k covers [k·w, (k+1)·w), w = Bound / <see cref="BinsPerSide"/> (the two halves folded).</summary>
    public long[] AbsoluteHistogram()
    {
        var histogram = _histogram ?? throw new InvalidOperationException($"'{Tensor}' has no histogram.");
        var half = histogram.Length / 2;
        var folded = new long[half];
        for (var k = 0; k < half; k++) folded[k] = histogram[half + k] + histogram[half - 1 - k];
        return folded;
    }
}
