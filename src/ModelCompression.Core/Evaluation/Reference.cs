using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Evaluation;

/// <summary>
/// The original model measured on a set of samples: its score and, per sample and output, what
/// candidates are compared against: the argmax along the last axis of every position (always; it
/// is small and gives agreement and accuracy on any subset) and the full values (only for the
/// cosine and mse metrics, which need them).
/// </summary>
/// <example>
/// The planner's path through data and evaluation:
/// <code>
/// var validation = SampleSet.Load(validationPath, DataSetting.ValidationData, original);
/// var calibration = SampleSet.Load(calibrationPath, DataSetting.CalibrationData, original);
/// var reference = Reference.Measure(original, modelPath, validation, request.Metric ?? Metrics.DefaultFor(validation));
/// var search = validation.Spread(Math.Min(validation.Count, 500));   // a fast subset for the search
/// double drop = reference.ScoreOn(search) - reference.Evaluate(candidate, "int8", search);
/// double final = reference.Evaluate(candidate, "int8");                  // all samples: compare with reference.Score
/// double ratio = LatencyMeter.Compare(original, modelPath, candidate, "int8", validation.Sample(0)).Ratio;
/// </code>
/// </example>
public sealed class Reference
{
    // One flat array per output, sample after sample (a few bytes per sample, not an object each: millions of
    // samples fit). A sample's slot is its position in Samples; _slots maps the file's numbering to it.
    private readonly Dictionary<int, int>? _slots; // source sample → slot; null when the samples are the whole file in order (slot = source)
    private readonly int[]?[] _argMax;      // [output] → argmax per position, per slot
    private readonly float[]?[]? _values;   // [output] → all values per slot (cosine, mse)
    private readonly int[] _valueCounts;    // per output: values per sample
    private readonly int[] _positions;      // per output: positions per sample
    private readonly int[] _lastAxes;       // per output: length of the last axis
    private readonly EvaluationOptions _options;

    private Reference(SampleSet samples, MetricKind metric, IReadOnlyList<string> outputNames, EvaluationOptions options)
    {
        Samples = samples;
        Metric = metric;
        OutputNames = outputNames;
        _options = options;
        if (Enumerable.Range(0, samples.Count).Any(i => samples.SourceIndex(i) != i))
            _slots = Enumerable.Range(0, samples.Count).ToDictionary(samples.SourceIndex, i => i);
        _argMax = new int[]?[outputNames.Count];
        _values = metric is MetricKind.Cosine or MetricKind.Mse ? new float[]?[outputNames.Count] : null;
        _valueCounts = new int[outputNames.Count];
        _positions = new int[outputNames.Count];
        _lastAxes = new int[outputNames.Count];
    }

    /// <summary>The samples the original was measured on.</summary>
    public SampleSet Samples { get; }

    public MetricKind Metric { get; }

    /// <summary>The measured outputs, in the model's order.</summary>
    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>The original's score on <see cref="Samples"/>: its accuracy, or 1 for the similarity metrics.</summary>
    public double Score { get; private set; }

    /// <summary>
    /// How many outcomes the score averages over: the samples, or with agreement every position of every output
    /// of every sample. One outcome moves the score by 1 / this, the finest drop these samples can show.
    /// </summary>
    public long ScoredOutcomes { get; private set; }

    /// <summary>
    /// The sampling noise of a score measured on these samples: one standard error of a proportion for accuracy and
    /// agreement (each outcome right or wrong); 0 for the similarity metrics, which average over every value.
    /// </summary>
    public double StandardErrorOf(double score) =>
        Metric is MetricKind.Accuracy or MetricKind.Agreement && ScoredOutcomes > 0
            ? Math.Sqrt(Math.Clamp(score, 0, 1) * (1 - Math.Clamp(score, 0, 1)) / ScoredOutcomes)
            : 0;

    /// <summary>
    /// Runs the original model over <paramref name="samples"/> once and keeps what <paramref name="metric"/>
    /// needs to score candidates against it. The options are reused for every candidate.
    /// </summary>
    /// <param name="modelName">The model file, named in errors.</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot run the model; MC2006 the metric is accuracy and the labels are missing or do not fit the first output.</exception>
    public static Reference Measure(ModelProto original, string modelName, SampleSet samples, MetricKind metric, EvaluationOptions? options = null)
    {
        if (samples.Count == 0) throw new ArgumentException("There are no samples to measure.", nameof(samples));
        if (metric == MetricKind.Accuracy && !samples.HasLabels)
            throw new CompressionException(DiagnosticCode.LabelsInvalid, samples.File,
                $"Data file '{samples.File}' has no 'labels' array, but Metric is accuracy. Add labels (int64 class indices, one per sample: np.savez_compressed(f, ..., labels=y)) or set Metric=\"agreement\".");
        options ??= EvaluationOptions.Default;
        using var evaluator = new Evaluator(original, modelName, options);
        var reference = new Reference(samples, metric, evaluator.OutputNames, options);
        var accuracy = metric == MetricKind.Accuracy ? new AccuracyAccumulator(samples, evaluator.OutputNames[0]) : null;
        evaluator.Run(samples, (index, outputs) =>
        {
            CheckFinite(modelName, samples, index, evaluator.OutputNames, outputs);
            reference.Record(index, outputs, modelName);
            accuracy?.Add(index, outputs);
        });
        reference.Score = accuracy?.Score ?? 1;
        return reference;
    }

    /// <summary>
    /// Runs <paramref name="candidate"/> over <paramref name="samples"/> (default: all of <see cref="Samples"/>;
    /// a subset of them, e.g. from <see cref="SampleSet.Split"/>, to search faster) and scores it with <see cref="Metric"/>.
    /// Compare with <see cref="ScoreOn"/> of the same samples.
    /// </summary>
    /// <param name="candidateName">How errors name the candidate.</param>
    /// <param name="metric">Another metric than <see cref="Metric"/>: only agreement, which every reference can give.</param>
    /// <exception cref="CompressionException">MC1003 ONNX Runtime cannot run the candidate; MC9001 its outputs do not match the original's.</exception>
    public double Evaluate(ModelProto candidate, string candidateName, SampleSet? samples = null, MetricKind? metric = null)
    {
        samples ??= Samples;
        if (metric is { } other && other != Metric && other != MetricKind.Agreement)
            throw new ArgumentException($"A reference measured for {Metric} can score {Metric} or agreement, not {other}.", nameof(metric));
        CheckCovered(samples);
        using var evaluator = new Evaluator(candidate, candidateName, _options);
        if (!evaluator.OutputNames.SequenceEqual(OutputNames))
            throw OutputMismatch(candidateName, $"outputs [{string.Join(", ", evaluator.OutputNames)}] differ from the original's [{string.Join(", ", OutputNames)}]");
        MetricAccumulator accumulator = (metric ?? Metric) switch
        {
            MetricKind.Accuracy => new AccuracyAccumulator(samples, OutputNames[0]),
            MetricKind.Agreement => new AgreementAccumulator(this, samples),
            MetricKind.Cosine => new CosineAccumulator(this, samples),
            MetricKind.Mse => new MseAccumulator(this, samples),
            _ => throw new ArgumentOutOfRangeException(nameof(Metric), Metric, null),
        };
        evaluator.Run(samples, (index, outputs) =>
        {
            for (var o = 0; o < outputs.Count; o++)
                if (outputs[o].Values.Length != _valueCounts[o] || outputs[o].LastAxis != _lastAxes[o])
                    throw OutputMismatch(candidateName, $"output '{OutputNames[o]}' has {outputs[o].Values.Length} values per sample with a last axis of {outputs[o].LastAxis}; the original's has {_valueCounts[o]} and {_lastAxes[o]}");
            accumulator.Add(index, outputs);
        });
        return accumulator.Score;
    }

    /// <summary>The original's score on <paramref name="samples"/> (a subset of <see cref="Samples"/>): what a candidate's score there is compared with.</summary>
    public double ScoreOn(SampleSet samples)
    {
        CheckCovered(samples);
        if (Metric != MetricKind.Accuracy) return 1;
        long correct = 0;
        for (var i = 0; i < samples.Count; i++)
            if (ArgMaxOf(0, samples.SourceIndex(i))[0] == samples.Label(i)) correct++;
        return (double)correct / samples.Count;
    }

    internal ReadOnlySpan<int> ArgMaxOf(int output, int source) => _argMax[output].AsSpan(SlotOf(source) * _positions[output], _positions[output]);

    internal ReadOnlySpan<float> ValuesOf(int output, int source) => _values![output].AsSpan(SlotOf(source) * _valueCounts[output], _valueCounts[output]);

    private int SlotOf(int source) => _slots is null ? source : _slots[source];

    /// <summary>An original that computes NaN or infinity on the data leaves nothing to compare candidates with: every score would be noise.</summary>
    private static void CheckFinite(string modelName, SampleSet samples, int index, IReadOnlyList<string> outputNames, IReadOnlyList<OutputValues> outputs)
    {
        for (var o = 0; o < outputs.Count; o++)
        {
            var values = outputs[o].Values.Span;
            for (var i = 0; i < values.Length; i++)
                if (!float.IsFinite(values[i]))
                    throw new CompressionException(DiagnosticCode.DataNotFinite, samples.File,
                        $"The original model '{modelName}' computes {values[i]} in output '{outputNames[o]}' for sample {samples.SourceIndex(index)} of '{samples.File}', " +
                        "so candidates cannot be compared with it there. Check that the data is preprocessed as the model expects (scale, normalisation), or remove that sample.");
        }
    }

    private void Record(int slot, IReadOnlyList<OutputValues> outputs, string modelName)
    {
        ScoredOutcomes += Metric == MetricKind.Agreement ? outputs.Sum(o => (long)o.Positions) : 1;
        for (var o = 0; o < outputs.Count; o++)
        {
            var output = outputs[o];
            if (_argMax[o] is null)
            {
                _valueCounts[o] = output.Values.Length;
                _positions[o] = output.Positions;
                _lastAxes[o] = output.LastAxis;
                var kept = (long)Samples.Count * (_values is null ? _positions[o] : _valueCounts[o]);
                if (kept > Array.MaxLength)
                    throw new CompressionException(DiagnosticCode.DataInvalid, Samples.File,
                        $"Data file '{Samples.File}': {Samples.Count} samples of output '{OutputNames[o]}' ({_valueCounts[o]} values each) are more values than can be kept to compare candidates with. " +
                        $"Use fewer samples{(_values is null ? "" : ", or a metric that keeps only the argmax (accuracy, agreement)")}.");
                _argMax[o] = new int[Samples.Count * _positions[o]];
                if (_values is not null) _values[o] = new float[Samples.Count * _valueCounts[o]];
            }
            else if (output.Values.Length != _valueCounts[o] || output.LastAxis != _lastAxes[o])
                throw new CompressionException(DiagnosticCode.ModelUnsupported, modelName,
                    $"'{modelName}' computes {output.Values.Length} values in output '{OutputNames[o]}' for sample {Samples.SourceIndex(slot)} of '{Samples.File}', " +
                    $"but {_valueCounts[o]} for the first sample: outputs whose size depends on the data cannot be compared sample by sample. Measure the model on an output of fixed size.");
            var positions = _argMax[o].AsSpan(slot * _positions[o], _positions[o]);
            for (var p = 0; p < positions.Length; p++) positions[p] = OutputValues.ArgMaxOf(output.At(p));
            if (_values is not null) output.Values.Span.CopyTo(_values[o].AsSpan(slot * _valueCounts[o], _valueCounts[o]));
        }
    }

    private void CheckCovered(SampleSet samples)
    {
        if (!samples.SharesDataWith(Samples))
            throw new ArgumentException($"The samples are not from '{Samples.File}' as bound for this reference.", nameof(samples));
        for (var i = 0; i < samples.Count; i++)
        {
            var source = samples.SourceIndex(i);
            if (_slots is null ? source >= Samples.Count : !_slots.ContainsKey(source))
                throw new ArgumentException($"Sample {source} of '{Samples.File}' was not measured on the original.", nameof(samples));
        }
    }

    private static CompressionException OutputMismatch(string candidate, string problem) =>
        new(DiagnosticCode.InternalError, candidate,
            $"The compressed candidate '{candidate}' no longer matches the original model: its {problem}. A compression pass changed the model's outputs; please report this.");
}
