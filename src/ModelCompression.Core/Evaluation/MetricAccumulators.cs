using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Evaluation;

/// <summary>Folds one sample's outputs at a time into a score in [0, 1] (1 = perfect).</summary>
internal abstract class MetricAccumulator
{
    /// <param name="index">The sample's index in the set being evaluated.</param>
    public abstract void Add(int index, IReadOnlyList<OutputValues> outputs);

    public abstract double Score { get; }

    protected static double Clamp(double score) => double.IsNaN(score) ? 0 : Math.Clamp(score, 0, 1);
}

/// <summary>Top-1 accuracy: the argmax of the first output along its last axis against the sample's label.</summary>
internal sealed class AccuracyAccumulator(SampleSet samples, string outputName) : MetricAccumulator
{
    private long _correct;
    private long _total;

    public override void Add(int index, IReadOnlyList<OutputValues> outputs)
    {
        var predicted = PredictedClass(samples, outputName, index, outputs[0]);
        if (predicted == samples.Label(index)) _correct++;
        _total++;
    }

    public override double Score => _total == 0 ? 0 : (double)_correct / _total;

    /// <summary>The class the first output picks for a sample, after checking that the label can be compared with it.</summary>
    /// <exception cref="CompressionException">MC2006 the output is not one class vector, or the label is not one of its classes.</exception>
    public static int PredictedClass(SampleSet samples, string outputName, int index, OutputValues first)
    {
        if (first.Positions != 1)
            throw new CompressionException(DiagnosticCode.LabelsInvalid, samples.File,
                $"Data file '{samples.File}': 'labels' give one class per sample, but the model's first output '{outputName}' has {first.Positions} vectors of {first.LastAxis} values per sample, so top-1 accuracy is undefined. Use Metric=\"agreement\" (or another metric without labels).");
        var label = samples.Label(index);
        if (label >= first.LastAxis)
            throw new CompressionException(DiagnosticCode.LabelsInvalid, samples.File,
                $"Data file '{samples.File}': labels[{samples.SourceIndex(index)}] is {label}, but the model's first output '{outputName}' has {first.LastAxis} classes (0..{first.LastAxis - 1}). Fix the labels array.");
        return OutputValues.ArgMaxOf(first.At(0));
    }
}

/// <summary>Top-1 agreement with the original: the share of positions, over every output, whose argmax along the last axis matches.</summary>
internal sealed class AgreementAccumulator(Reference reference, SampleSet samples) : MetricAccumulator
{
    private long _agreeing;
    private long _total;

    public override void Add(int index, IReadOnlyList<OutputValues> outputs)
    {
        var source = samples.SourceIndex(index);
        for (var o = 0; o < outputs.Count; o++)
        {
            var original = reference.ArgMaxOf(o, source);
            for (var p = 0; p < original.Length; p++)
                if (OutputValues.ArgMaxOf(outputs[o].At(p)) == original[p]) _agreeing++;
            _total += original.Length;
        }
    }

    // A model whose outputs have no positions at all agrees trivially.
    public override double Score => _total == 0 ? 1 : (double)_agreeing / _total;
}

/// <summary>
/// Mean cosine similarity of each sample's output to the original's, averaged over outputs. Two
/// zero vectors are identical (1); a zero vector against a non-zero one shares nothing (0);
/// negative similarities count as 0, so the score stays in [0, 1].
/// </summary>
internal sealed class CosineAccumulator : MetricAccumulator
{
    private readonly Reference _reference;
    private readonly SampleSet _samples;
    private readonly double[] _sums;
    private long _count;

    public CosineAccumulator(Reference reference, SampleSet samples)
    {
        _reference = reference;
        _samples = samples;
        _sums = new double[reference.OutputNames.Count];
    }

    public override void Add(int index, IReadOnlyList<OutputValues> outputs)
    {
        var source = _samples.SourceIndex(index);
        for (var o = 0; o < outputs.Count; o++)
            _sums[o] += Clamp(Similarity(outputs[o].Values.Span, _reference.ValuesOf(o, source)));
        _count++;
    }

    public override double Score => _count == 0 ? 1 : _sums.Average() / _count;

    public static double Similarity(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, aa = 0, bb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            aa += (double)a[i] * a[i];
            bb += (double)b[i] * b[i];
        }
        if (aa == 0 && bb == 0) return 1;
        if (aa == 0 || bb == 0) return 0;
        return dot / (Math.Sqrt(aa) * Math.Sqrt(bb));
    }
}

/// <summary>
/// 1 − MSE / variance of the original's values, per output over every element of every sample,
/// clamped to [0, 1] and averaged over outputs. An output the original holds constant scores 1
/// when matched exactly, else 0.
/// </summary>
internal sealed class MseAccumulator : MetricAccumulator
{
    private readonly Reference _reference;
    private readonly SampleSet _samples;
    private readonly Moments[] _moments;

    public MseAccumulator(Reference reference, SampleSet samples)
    {
        _reference = reference;
        _samples = samples;
        _moments = new Moments[reference.OutputNames.Count];
    }

    public override void Add(int index, IReadOnlyList<OutputValues> outputs)
    {
        var source = _samples.SourceIndex(index);
        for (var o = 0; o < outputs.Count; o++)
        {
            var candidate = outputs[o].Values.Span;
            var original = _reference.ValuesOf(o, source);
            ref var m = ref _moments[o];
            if (m.Count == 0 && original.Length > 0) m.Shift = original[0];
            for (var i = 0; i < original.Length; i++)
            {
                double error = candidate[i] - original[i], centred = original[i] - m.Shift;
                m.SquaredError += error * error;
                m.Sum += centred;
                m.SumOfSquares += centred * centred;
            }
            m.Count += original.Length;
        }
    }

    public override double Score => _moments.Average(m => m.Score);

    private struct Moments
    {
        public double Shift, Sum, SumOfSquares, SquaredError;
        public long Count;

        public readonly double Score
        {
            get
            {
                if (Count == 0) return 1;
                var mse = SquaredError / Count;
                var mean = Sum / Count;
                // Shifting by the first value keeps E[x²] − E[x]² from cancelling away.
                var variance = Math.Max(0, SumOfSquares / Count - mean * mean);
                if (variance == 0) return mse == 0 ? 1 : 0;
                return Clamp(1 - mse / variance);
            }
        }
    }
}
