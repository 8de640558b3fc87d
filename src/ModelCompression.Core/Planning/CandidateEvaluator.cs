using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Applies plans to the source model and measures the results: score on the search split, size and
/// latency against the original (timed interleaved in this process), and on request the score on the
/// full validation data. Measurements are cached by the model's content hash, so plans that produce
/// the same model are measured once.
/// </summary>
public sealed class CandidateEvaluator(
    ModelProto source, string modelFile, PassContext context, Reference search, Reference validation,
    IReadOnlyDictionary<string, NdArray> latencySample, LatencyOptions latencyOptions) : ICandidateMeasurer
{
    private readonly Dictionary<string, Candidate> _byHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Measurement> _validationByHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _searchScoreByHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _disagreementByHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LatencyComparison> _confirmedLatency = new(StringComparer.Ordinal);

    /// <summary>Latencies up to this far over the budget are timed again before a candidate counts as too slow.</summary>
    public const double ConfirmationMargin = 1.5;

    /// <summary>How many distinct models were run (cache hits excluded).</summary>
    public int Evaluations { get; private set; }

    private (PassStep Step, ModelProto Model)? _firstStep;

    /// <summary>
    /// The source with <paramref name="plan"/> applied. Every candidate starts with the same lossless step,
    /// so its result is kept and only the steps after it run per candidate (the passes are deterministic).
    /// </summary>
    public ModelProto Apply(Plan plan)
    {
        if (plan.Steps.IsEmpty) return source.Clone();
        var first = plan.Steps[0];
        if (_firstStep is not { } cached || !cached.Step.Equals(first))
            _firstStep = cached = (first, PassCatalog.Apply(source, new Plan([first]), context));
        try
        {
            return PassCatalog.Apply(cached.Model, new Plan(plan.Steps.Skip(1)), context);
        }
        catch (PlanStepException e)
        {
            throw e.After(1);
        }
    }

    /// <summary>The model <paramref name="plan"/> ships: <see cref="Apply"/>'s with compact value names.</summary>
    private ModelProto Build(Plan plan) => ValueNameCompaction.Compacted(Apply(plan));

    /// <summary>Applies <paramref name="plan"/> and measures it on the search split (cached by model hash).</summary>
    public Candidate Measure(string label, Plan plan)
    {
        var model = Build(plan);
        var hash = OnnxModelFile.HashOf(model);
        if (_byHash.TryGetValue(hash, out var known)) return known with { Label = label, Plan = plan };
        var score = SearchScore(model, hash, label);
        var latency = LatencyMeter.Compare(source, modelFile, model, label, latencySample, latencyOptions);
        var candidate = new Candidate(label, plan, () => Build(plan), hash, OnnxModelFile.SizeOf(model),
            new Measurement(score, search.Score, search.Samples.Count), latency) { Model = model };
        _byHash[hash] = candidate;
        return candidate;
    }

    /// <summary>
    /// What a sensitivity probe costs on the search split: the score drop, except with accuracy, where it is the share
    /// of predictions that changed. On a few hundred samples accuracy moves in steps of one sample and small changes
    /// cancel out (fashion-cnn: most layers "lose 0.00 pt" alone and 1.8 pt together); changed predictions add up, and
    /// they bound the accuracy drop from above.
    /// </summary>
    public double SensitivityOf(Plan plan, string label)
    {
        var model = Build(plan);
        return SensitivityOf(model, OnnxModelFile.HashOf(model), label);
    }

    /// <summary>A sensitivity probe: <see cref="SensitivityOf(Plan, string)"/> and the file's size, from one application of the plan.</summary>
    public (double Sensitivity, long SizeBytes) Probe(Plan plan, string label) => Probe(plan, label, measure: true);

    /// <summary>A sensitivity probe (0 unless <paramref name="measure"/>) and the file's size, from one application of the plan.</summary>
    public (double Sensitivity, long SizeBytes) Probe(Plan plan, string label, bool measure)
    {
        var model = Build(plan);
        return (measure ? SensitivityOf(model, OnnxModelFile.HashOf(model), label) : 0, OnnxModelFile.SizeOf(model));
    }

    private double SensitivityOf(ModelProto model, string hash, string label)
    {
        if (search.Metric != MetricKind.Accuracy)
            return new Measurement(SearchScore(model, hash, label), search.Score, search.Samples.Count).Drop;
        if (!_disagreementByHash.TryGetValue(hash, out var disagreement))
        {
            Evaluations++;
            _disagreementByHash[hash] = disagreement = 1 - search.Evaluate(model, label, metric: MetricKind.Agreement);
        }
        return disagreement;
    }

    /// <summary>What <see cref="SensitivityOf"/> measures when it is not the metric's drop (for the log and the report).</summary>
    public string? SensitivityMeasure => search.Metric == MetricKind.Accuracy ? "predictions changed" : null;

    public double Resolution => 1.0 / Math.Max(1, search.Samples.Count);


    private double SearchScore(ModelProto model, string hash, string label)
    {
        if (!_searchScoreByHash.TryGetValue(hash, out var score))
        {
            Evaluations++;
            _searchScoreByHash[hash] = score = search.Evaluate(model, label);
        }
        return score;
    }

    /// <summary>The candidate with its score on the full validation data (cached by model hash).</summary>
    public Candidate Judge(Candidate candidate)
    {
        if (!_validationByHash.TryGetValue(candidate.Hash, out var measurement))
        {
            measurement = new Measurement(validation.Evaluate(candidate.Model, candidate.Label), validation.Score, validation.Samples.Count);
            _validationByHash[candidate.Hash] = measurement;
        }
        return candidate with { Validation = measurement };
    }

    /// <summary>
    /// The candidate with a confirmed latency when its first measurement breaks the latency budget by a small
    /// margin: a busy build machine makes one short measurement noisy, so it is timed three more times with
    /// four times the runs and the median comparison counts. Clearly slower candidates are returned as they are.
    /// </summary>
    public Candidate ConfirmLatency(Candidate candidate, Budgets budgets)
    {
        if (budgets.AllowsLatency(candidate.Latency) || !budgets.AllowsLatency(Scaled(candidate.Latency, 1 / ConfirmationMargin))) return candidate;
        if (!_confirmedLatency.TryGetValue(candidate.Hash, out var latency))
        {
            var longer = latencyOptions with { Runs = latencyOptions.Runs * 4 };
            var repeats = Enumerable.Range(0, 3)
                .Select(_ => LatencyMeter.Compare(source, modelFile, candidate.Model, candidate.Label, latencySample, longer))
                .OrderBy(c => c.Ratio).ToList();
            _confirmedLatency[candidate.Hash] = latency = repeats[1];
        }
        var confirmed = candidate with { Latency = latency };
        _byHash[candidate.Hash] = confirmed;
        return confirmed;
    }

    // The same comparison with the candidate's time scaled (to ask whether it is within a margin of the budget).
    private static LatencyComparison Scaled(LatencyComparison latency, double factor) =>
        latency with { Candidate = TimeSpan.FromTicks((long)(latency.Candidate.Ticks * factor)) };
}
