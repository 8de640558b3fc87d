namespace ModelCompression.Core.Calibration;

/// <summary>Chooses an activation's range from its statistics by a <see cref="CalibrationMethod"/>. Pure and deterministic.</summary>
public static class RangeSelection
{
    public static ActivationRange Select(ActivationStatistics statistics, CalibrationSettings settings)
    {
        if (statistics.Count == 0) return new ActivationRange(0, 0);
        if (settings.Method == CalibrationMethod.MinMax) return statistics.ObservedRange;
        if (!statistics.HasHistogram)
            throw new InvalidOperationException($"'{statistics.Tensor}' was calibrated without histograms, which {settings.Method} needs.");
        return settings.Method switch
        {
            CalibrationMethod.Percentile => Percentile(statistics, settings.Percentile, settings.Symmetric),
            CalibrationMethod.Entropy => Entropy(statistics, settings.Symmetric),
            _ => throw new ArgumentOutOfRangeException(nameof(settings), settings.Method, null),
        };
    }

    /// <summary>
    /// Symmetric: [−T, T] with T the upper edge of the |x| bin where <paramref name="percentile"/>% of
    /// the values are reached. Asymmetric: each tail cut at (100 − percentile)%. Never wider than MinMax.
    /// </summary>
    public static ActivationRange Percentile(ActivationStatistics statistics, double percentile, bool symmetric)
    {
        var total = statistics.Count;
        var width = statistics.Bound / statistics.BinsPerSide;
        if (symmetric)
        {
            var folded = statistics.AbsoluteHistogram();
            var k = FirstBinReaching(folded, percentile / 100 * total);
            var t = Math.Min((k + 1) * width, statistics.Bound);
            return Clamp(new ActivationRange(-t, t), statistics);
        }
        var histogram = statistics.Histogram.ToArray();
        var lowBin = FirstBinReaching(histogram, (100 - percentile) / 100 * total);
        var highBin = FirstBinReaching(histogram, percentile / 100 * total);
        return Clamp(new ActivationRange(-statistics.Bound + lowBin * width, -statistics.Bound + (highBin + 1) * width), statistics);
    }

    /// <summary>
    /// TensorRT's entropy calibration: over a histogram of magnitudes, try every threshold from <c>levels</c> bins up
    /// to all of them; for each, the reference distribution P is the histogram up to the threshold with everything
    /// beyond added to its last bin (clipping), and Q is that histogram merged into <c>levels</c> quantization levels
    /// and spread back over the bins that P fills; keep the threshold with the smallest KL(P‖Q), at (m + 0.5) bin
    /// widths as TensorRT. Symmetric: one threshold T on |x| with 128 levels (one sign of int8), range [−T, T].
    /// Asymmetric: each sign's tail gets its own threshold, over its own histogram of magnitudes (a one-sided tensor,
    /// e.g. after Relu, with all 256 levels of uint8), because the two tails of an asymmetric tensor differ (an image
    /// normalised to [−0.8, 2.0] with its background at −0.8 would otherwise have its bright side clipped at 0.8).
    /// </summary>
    public static ActivationRange Entropy(ActivationStatistics statistics, bool symmetric)
    {
        var width = statistics.Bound / statistics.BinsPerSide;
        float Threshold(long[] magnitudes, int levels) =>
            Math.Min((float)((FindEntropyThresholdBins(WithoutZeroSpike(magnitudes), levels) + 0.5) * width), statistics.Bound);
        if (symmetric)
        {
            var t = Threshold(statistics.AbsoluteHistogram(), 128);
            return Clamp(new ActivationRange(-t, t), statistics);
        }
        var (negative, positive) = statistics.SideHistograms();
        var oneSided = statistics.Min >= 0 || statistics.Max <= 0;
        var levels = oneSided ? 256 : 128;
        var low = statistics.Min < 0 ? -Threshold(negative, levels) : 0;
        var high = statistics.Max > 0 ? Threshold(positive, levels) : 0;
        return Clamp(new ActivationRange(low, high), statistics);
    }

    // Exact zeros (half of every Relu output) pile up in the first bin. Any grid represents 0 exactly, but the spike
    // would dominate the divergence and pull the threshold down to the fewest bins tried, so the first bin counts
    // as its neighbour does (NVIDIA's pytorch-quantization does the same).
    private static long[] WithoutZeroSpike(long[] magnitudes)
    {
        if (magnitudes.Length < 2) return magnitudes;
        var copy = (long[])magnitudes.Clone();
        copy[0] = Math.Min(copy[0], copy[1]);
        return copy;
    }

    /// <summary>The number of |x| bins (from 0) that the KL-optimal threshold keeps.</summary>
    internal static int FindEntropyThresholdBins(long[] histogram, int levels)
    {
        var n = histogram.Length;
        if (n <= levels) return n;
        var suffix = new long[n + 1]; // suffix[i] = counts in bins i..n−1: the outliers a threshold of i bins clips
        for (var i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + histogram[i];
        if (suffix[0] == 0) return n;

        var p = new double[n];
        var q = new double[n];
        var best = n;
        var bestDivergence = double.PositiveInfinity;
        for (var i = levels; i <= n; i++)
        {
            for (var k = 0; k < i; k++) p[k] = histogram[k];
            p[i - 1] += suffix[i];

            // Q: the first i bins merged into `levels` groups, each group's count spread evenly over the bins P fills.
            for (var j = 0; j < levels; j++)
            {
                var start = (int)((long)j * i / levels);
                var end = (int)((long)(j + 1) * i / levels);
                double sum = 0;
                var filled = 0;
                for (var k = start; k < end; k++)
                {
                    sum += histogram[k];
                    if (p[k] > 0) filled++;
                }
                for (var k = start; k < end; k++) q[k] = p[k] > 0 && filled > 0 ? sum / filled : 0;
            }
            var divergence = KullbackLeibler(p.AsSpan(0, i), q.AsSpan(0, i));
            if (divergence < bestDivergence)
            {
                bestDivergence = divergence;
                best = i;
            }
        }
        return best;
    }

    // KL(P‖Q) of two unnormalised histograms. Where P has mass and Q none (the clipped outliers landing in an
    // empty bin), Q gets a small floor instead of making the divergence infinite, as smoothing does in TensorRT and ORT.
    private static double KullbackLeibler(ReadOnlySpan<double> p, ReadOnlySpan<double> q)
    {
        double pSum = 0, qSum = 0;
        for (var k = 0; k < p.Length; k++)
        {
            pSum += p[k];
            qSum += q[k];
        }
        if (pSum == 0) return 0;
        const double floor = 1e-4;
        var qFloor = floor * (qSum > 0 ? qSum : pSum) / p.Length;
        double divergence = 0;
        for (var k = 0; k < p.Length; k++)
        {
            if (p[k] <= 0) continue;
            var pk = p[k] / pSum;
            var qk = Math.Max(q[k], qFloor) / (qSum > 0 ? qSum : pSum);
            divergence += pk * Math.Log(pk / qk);
        }
        return divergence;
    }

    private static int FirstBinReaching(ReadOnlySpan<long> histogram, double count)
    {
        long running = 0;
        for (var k = 0; k < histogram.Length; k++)
        {
            running += histogram[k];
            if (running >= count) return k;
        }
        return histogram.Length - 1;
    }

    // A histogram-derived range never extends past what was observed.
    private static ActivationRange Clamp(ActivationRange range, ActivationStatistics statistics) =>
        new(Math.Max(range.Min, statistics.Min), Math.Min(range.Max, statistics.Max));
}
