using System.Globalization;
using System.Diagnostics;
using ModelCompression.Core.Planning.Prediction;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>What a knapsack unit is: a layer's weights, or a group of coupled channels.</summary>
public enum UnitKind { Layer, Channels }

/// <summary>
/// One option of one unit, measured alone on the search split or predicted: a layer's setting, or a share of a
/// channel group pruned; what it saves and what it costs.
/// </summary>
/// <param name="Unit">The layer's node name, or the channel group's id.</param>
/// <param name="Bytes">The size change of the model (negative: saved).</param>
/// <param name="Drop">The score drop (0 for settings assumed lossless, and for rises).</param>
/// <param name="Predicted">The drop is predicted from the layer's statistics, not measured.</param>
public sealed record SettingProbe(UnitKind Kind, string Unit, string OpType, LayerSetting? Setting, double PruneRatio, long Bytes, double Drop, bool Predicted = false)
{
    public string Label => Setting?.ToString() ?? string.Create(CultureInfo.InvariantCulture, $"{PruneRatio:P0} of its channels pruned");

    public CompressionSketch ApplyTo(CompressionSketch sketch) =>
        Setting is { } setting ? sketch.With(Unit, setting) : sketch.WithPruning(Unit, PruneRatio);
}

/// <summary>What the search measured, and the sketch it settled on.</summary>
/// <param name="OptionsPredicted">Options whose drop was predicted from layer statistics.</param>
/// <param name="OptionsMeasured">Options measured alone (a layer's calibration option, a channel share).</param>
/// <param name="TimedOut">The safety net (<see cref="SearchLimits.MaxSearchTime"/>) stopped the search: the result depends on the machine's speed.</param>
public sealed record PlannerResult(
    IReadOnlyList<Candidate> Candidates,
    IReadOnlyList<SettingProbe> Probes,
    CompressionSketch Solution,
    bool TimedOut,
    TimeSpan Elapsed,
    int OptionsPredicted = 0,
    int OptionsMeasured = 0);

/// <summary>
/// How much work the search may do. Counts, not time, bound it, so the same inputs give the same plan on any machine;
/// <see cref="MaxSearchTime"/> is only a safety net.
/// </summary>
/// <param name="MaxCalibrationProbes">Options measured alone to calibrate the predicted drops (one per layer and kind, largest layers first); the others take the median.</param>
/// <param name="MaxPruningProbes">Channel shares measured alone (largest groups first).</param>
/// <param name="MaxSolveRounds">Combinations the knapsack proposes per family.</param>
public sealed record SearchLimits(TimeSpan MaxSearchTime, int MaxCalibrationProbes = 64, int MaxPruningProbes = 48, int MaxSolveRounds = 10)
{
    public static SearchLimits Default { get; } = new(CompressionRequest.DefaultMaxSearchTime);

    /// <summary>
    /// The most multiply-adds one empirical bias correction may cost (layers × the model's multiply-adds per sample ×
    /// samples: each layer is measured on the part of the model before it); beyond it the search corrects biases
    /// analytically from the layer statistics. Chosen between the corpus's models: fashion-cnn 6 × 38M × 512 = 1.2·10¹¹,
    /// ppocr-rec 47 × 1.4G × 64 = 4.2·10¹² (about 150 s a candidate on 2 cores), the 100 MB tower more still.
    /// </summary>
    public double MaxEmpiricalCorrectionWork { get; init; } = 1e12;

    /// <summary>
    /// The most multiply-adds the options measured alone may cost together (<see cref="MaxCalibrationProbes"/> +
    /// <see cref="MaxPruningProbes"/> runs of the model over the search split). Models that cost more get proportionally
    /// fewer probes (<see cref="ForModel"/>); the unmeasured layers take the median coefficient. Chosen so that the small
    /// models of the corpus keep every probe they use (fashion-cnn, 112 × 38M × 1000 = 4.3·10¹², may measure 37 options
    /// and 27 shares and uses 22 and 8; ppocr-cls costs less) and ppocr-rec (1.4G × 64 a probe) gets a quarter of them.
    /// </summary>
    public double MaxProbeWork { get; init; } = 2.5e12;

    /// <summary>These limits with the probes scaled down to <see cref="MaxProbeWork"/> for a model of <paramref name="multiplyAdds"/> a sample measured on <paramref name="samples"/>.</summary>
    public SearchLimits ForModel(long multiplyAdds, int samples)
    {
        var work = (double)multiplyAdds * samples * (MaxCalibrationProbes + MaxPruningProbes);
        if (work <= MaxProbeWork) return this;
        var share = MaxProbeWork / work;
        return this with
        {
            MaxCalibrationProbes = Math.Max(1, (int)(MaxCalibrationProbes * share)),
            MaxPruningProbes = Math.Max(1, (int)(MaxPruningProbes * share)),
        };
    }

    /// <summary>Whether a bias correction of <paramref name="layers"/> layers on a model of <paramref name="multiplyAdds"/> per sample, over <paramref name="samples"/>, is too much work to measure.</summary>
    public bool CorrectsAnalytically(int layers, long multiplyAdds, int samples) => (double)layers * multiplyAdds * samples > MaxEmpiricalCorrectionWork;
}

/// <summary>
/// The accuracy-aware search. Every layer at its smallest setting first; when that breaks a budget on the search split,
/// every option of every layer gets a predicted drop (its output error from the layer's input statistics, scaled by a
/// coefficient measured once per layer), channel shares are measured alone, and a multiple-choice knapsack picks the
/// smallest combination whose summed drop fits the budget. Drops only roughly add up, so the combination is measured:
/// if it breaks the budget the unexplained part is charged to its options and the knapsack runs again, or with a
/// tighter budget; if it holds with room to spare, a looser one; then it bisects between the two. This runs per family
/// (quantization only, then per-layer structure, then channel pruning too), and on each solution the shared knobs
/// (int8 form and calibration, int4 block size and accuracy level) are tried one at a time.
/// </summary>
public sealed class CompressionPlanner(
    ICandidateMeasurer evaluator, Plan basePlan, CompressionSpace space, Budgets budgets, SearchLimits limits, SearchProgress progress,
    LayerErrors errors, IEnumerable<Candidate>? measured = null, IEnumerable<SettingProbe>? probed = null, QuantizationKnobs? defaults = null)
{
    // The knobs every family starts from (the bias correction method is fixed per model: see SearchLimits).
    private readonly QuantizationKnobs _defaults = defaults ?? QuantizationKnobs.Default;

    /// <summary>The relative output error a layer's calibration option should stay under: visible on the search split, not saturated.</summary>
    public const double CalibrationError = 0.1;

    /// <summary>A combination that used this share of the budget or more is close enough: no looser budget is tried.</summary>
    public const double BudgetUsedEnough = 0.8;

    /// <summary>The knapsack's budget grows at most this factor per round when a combination held with room to spare.</summary>
    public const double MaxBudgetGrowth = 2;

    /// <summary>The knapsack's budget shrinks at least to this share per round when a combination broke it.</summary>
    public const double MinBudgetShrink = 0.7;

    /// <summary>Bisection stops when the holding and failing budgets are this share of the allowed drop apart; unexplained drops below it are noise.</summary>
    public const double BudgetResolution = 1.0 / 16;

    private readonly List<Candidate> _candidates = [.. measured ?? []];
    private readonly List<SettingProbe> _probes = [.. probed ?? []];
    private readonly DropPredictor _predictor = new(errors, evaluator.Resolution);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _timedOut;
    private double _losslessSensitivity;

    public PlannerResult Run()
    {
        // Options measured alone by an earlier round calibrate this one's predictions too.
        foreach (var probe in _probes.Where(p => p.Kind == UnitKind.Layer && !p.Predicted))
            _predictor.Calibrate(probe.Unit, probe.Setting!, probe.Drop);
        var lossless = Measure("lossless", basePlan, CompressionSketch.Unchanged, force: true)!;
        // What the lossless rewrites alone change (float rounding): no option is charged for it.
        _losslessSensitivity = evaluator.SensitivityOf(lossless.Plan, lossless.Label);
        if (space.Layers.Count == 0 && space.Pruning.Count == 0) return Result(CompressionSketch.Unchanged);

        // Each family is searched on its own so that each family's best is a candidate: when the riskier one
        // misses on the validation data, the safer one is there.
        var solution = CompressionSketch.Unchanged;
        foreach (var family in Families())
        {
            (solution, var knobs) = SolveFamily(family);
            // The shared knobs one at a time on the family's solution (not their product: each costs a whole-model run).
            foreach (var variant in space.Int8Variants().Concat(space.Int4Variants(_defaults)).Distinct())
                Measure(solution, variant with { BiasCorrection = knobs.BiasCorrection, FoldFactors = knobs.FoldFactors, AnalyticCorrection = _defaults.AnalyticCorrection });
            if (solution.Layers.Values.Any(s => !s.AssumedLossless))
                Measure(solution, knobs with { BiasCorrection = !knobs.BiasCorrection });
        }
        return Result(solution);
    }

    /// <summary>
    /// The families, from the safest to the riskiest: quantization only; then every per-layer technique
    /// (low-rank factors, palettes, sparsity); then channel pruning as well, which without fine-tuning tends to
    /// look better on calibration data than it generalizes. Each is a candidate of its own.
    /// </summary>
    private IEnumerable<Func<SettingProbe, bool>> Families()
    {
        static bool QuantizationOnly(SettingProbe p) => p.Setting is { } s && LayerSetting.IsQuantization(s);
        static bool PerLayer(SettingProbe p) => p.Kind == UnitKind.Layer;
        yield return QuantizationOnly;
        if (space.Layers.Any(l => l.Settings.Any(s => !LayerSetting.IsQuantization(s)))) yield return PerLayer;
        if (space.Pruning.Count > 0) yield return _ => true;
    }

    /// <summary>
    /// Every unit at its smallest option in the family first (accurate enough but too slow: again with int8 activations
    /// quantized); if that breaks a budget, the options get their drops (predicted, or measured for channel shares) and
    /// the knapsack solves. Returns the family's solution and the knobs it holds with (bias correction, folded factors,
    /// the int8 form).
    /// </summary>
    private (CompressionSketch Sketch, QuantizationKnobs Knobs) SolveFamily(Func<SettingProbe, bool> family)
    {
        var knobs = _defaults;
        var all = Options().Where(family).ToList();
        var smallest = all.GroupBy(o => (o.Kind, o.Unit)).Aggregate(CompressionSketch.Unchanged,
            (sketch, unit) => unit.MinBy(o => o.Bytes)!.ApplyTo(sketch));
        var first = Measure(smallest, knobs);
        if (first is not null && Holds(first)) return (smallest, knobs);
        if (first is not null && TooSlowOnly(first) && WithInt8Activations(smallest, knobs) is { } faster) return (smallest, faster.Knobs);
        Calibrate(knobs);
        MeasurePruning(knobs, all.Where(o => o.Kind == UnitKind.Channels).ToList());
        return Solve(knobs, family);
    }

    /// <summary>
    /// Every layer option with its estimated bytes and predicted drop, every channel share unmeasured (bytes 0),
    /// largest units first. Options without a prediction (no weight found) are left out.
    /// </summary>
    private IEnumerable<SettingProbe> Options() =>
        space.Layers.Select(l => (l.Parameters, Options: l.Settings
                .Where(setting => setting.AssumedLossless || errors.Of(l.Node, setting) is not null)
                .Select(setting => new SettingProbe(UnitKind.Layer, l.Node, l.OpType, setting, 0, errors.EstimatedBytes(l, setting), 0, Predicted: true))))
            .Concat(space.Pruning.Select(g => (g.Parameters, Options: g.Ratios.Select(ratio =>
                new SettingProbe(UnitKind.Channels, g.Group, "channels", null, ratio, -(long)(g.Parameters * 4 * ratio), 0)))))
            .OrderByDescending(u => u.Parameters)
            .SelectMany(u => u.Options);

    /// <summary>
    /// One option of each layer measured alone (largest layers first, at most <see cref="SearchLimits.MaxCalibrationProbes"/>):
    /// it fixes how that layer's output error turns into the model's drop.
    /// </summary>
    private void Calibrate(QuantizationKnobs knobs)
    {
        var calibrated = _probes.Where(p => p.Kind == UnitKind.Layer && !p.Predicted).ToList();
        var options = space.Layers.Where(l => calibrated.All(p => p.Unit != l.Node))
            .OrderByDescending(l => l.Parameters).ThenBy(l => l.Node, StringComparer.Ordinal)
            .SelectMany(l => _predictor.CalibrationOptions(l, CalibrationError).Select(setting =>
                new SettingProbe(UnitKind.Layer, l.Node, l.OpType, setting, 0, errors.EstimatedBytes(l, setting), 0)))
            .Take(limits.MaxCalibrationProbes - calibrated.Count)
            .ToList();
        if (options.Count == 0) return;
        progress.Stage($"predicted the drop of {errors.Count} options from layer statistics; measuring {options.Count} of them alone (one per layer and kind) to calibrate the predictions");
        var done = 0;
        foreach (var option in options)
        {
            if (TimeIsUp()) return;
            var probe = MeasureAlone(option, knobs);
            _predictor.Calibrate(option.Unit, option.Setting!, probe.Drop);
            progress.Sensitivity(probe.Unit, probe.Label, probe.Drop, ++done, options.Count, evaluator.SensitivityMeasure);
        }
    }

    /// <summary>Channel shares measured alone (largest groups first, at most <see cref="SearchLimits.MaxPruningProbes"/> in all).</summary>
    private void MeasurePruning(QuantizationKnobs knobs, IReadOnlyList<SettingProbe> options)
    {
        var unmeasured = options.Where(o => !_probes.Any(p => SameOption(p, o)))
            .Take(limits.MaxPruningProbes - _probes.Count(p => p.Kind == UnitKind.Channels)).ToList();
        if (unmeasured.Count == 0) return;
        progress.Stage($"measuring {unmeasured.Count} channel shares of {unmeasured.Select(o => o.Unit).Distinct().Count()} channel groups alone");
        var done = 0;
        foreach (var option in unmeasured)
        {
            if (TimeIsUp()) return;
            var probe = MeasureAlone(option, knobs);
            progress.Sensitivity(probe.Unit, probe.Label, probe.Drop, ++done, unmeasured.Count, evaluator.SensitivityMeasure);
        }
    }

    private SettingProbe MeasureAlone(SettingProbe option, QuantizationKnobs knobs)
    {
        var plan = PlanBuilder.Build(basePlan, option.ApplyTo(CompressionSketch.Unchanged), knobs, space);
        var lossless = _candidates[0];
        var (sensitivity, size) = evaluator.Probe(plan, $"{option.Unit} alone at {option.Label}");
        var probe = option with { Bytes = size - lossless.SizeBytes, Drop = Math.Max(0, sensitivity - _losslessSensitivity), Predicted = false };
        _probes.Add(probe);
        return probe;
    }

    private static bool SameOption(SettingProbe a, SettingProbe b) =>
        a.Kind == b.Kind && a.Unit == b.Unit && a.Setting == b.Setting && a.PruneRatio == b.PruneRatio;

    /// <summary>
    /// The knapsack's options: each layer option with its predicted drop (its measured one when it was measured alone),
    /// each measured channel share.
    /// </summary>
    private List<List<SettingProbe>> KnapsackOptions(Func<SettingProbe, bool> family, IReadOnlySet<SettingProbe> forbidden)
    {
        var measuredAlone = _probes.Where(p => !p.Predicted).ToList();
        var options = Options()
            .Select(o => measuredAlone.FirstOrDefault(p => SameOption(p, o)) is { } known ? known with { Bytes = Math.Min(known.Bytes, o.Bytes) }
                : o.Kind == UnitKind.Layer && _predictor.Predict(o.Unit, o.Setting!) is { } drop ? o with { Drop = drop } : null)
            .OfType<SettingProbe>()
            .Where(o => family(o) && !forbidden.Contains(o))
            .ToList();
        return space.Layers.Select(l => (UnitKind.Layer, l.Node)).Concat(space.Pruning.Select(g => (UnitKind.Channels, g.Group)))
            .Select(u => options.Where(o => o.Kind == u.Item1 && o.Unit == u.Item2).ToList())
            .ToList();
    }

    /// <summary>
    /// Knapsack, measure, adjust the budget (bisecting between one that held and one that did not). A combination
    /// too inaccurate as it is is measured again with bias correction, which often recovers it
    /// (fashion-cnn, rank 39 + 3-bit palettes: 91.41% → 92.38% on the search split).
    /// </summary>
    private (CompressionSketch Sketch, QuantizationKnobs Knobs) Solve(QuantizationKnobs knobs, Func<SettingProbe, bool> family)
    {
        var forbidden = new HashSet<SettingProbe>();
        var blame = new Dictionary<(string, LayerSetting?, double), double>();
        double Cost(SettingProbe p) => p.Drop + blame.GetValueOrDefault((p.Unit, p.Setting, p.PruneRatio));
        var best = (Sketch: CompressionSketch.Unchanged, Knobs: knobs);
        long bestSize = long.MaxValue;
        double budget = budgets.MaxAccuracyDrop, holding = double.NaN, failing = double.NaN;
        for (var round = 0; round < limits.MaxSolveRounds; round++)
        {
            var options = KnapsackOptions(family, forbidden);
            var choice = MultipleChoiceKnapsack.Solve(
                options.Select(o => (IReadOnlyList<KnapsackOption>)[new KnapsackOption(0, 0), .. o.Select(p => new KnapsackOption(p.Bytes, Cost(p)))]).ToList(),
                budget);
            if (choice is null) break;
            var chosen = choice.Select((c, i) => c > 0 ? options[i][c - 1] : null).OfType<SettingProbe>().ToList();
            var sketch = chosen.Aggregate(CompressionSketch.Unchanged, (current, option) => option.ApplyTo(current));
            var used = knobs;
            var candidate = Measure(sketch, used);
            if (candidate is null) break;
            if (!budgets.AllowsDrop(candidate.Search.Drop) && sketch.Layers.Values.Any(l => !l.AssumedLossless)
                && Measure(sketch, used with { BiasCorrection = true }) is { } withCorrection && withCorrection.Search.Drop < candidate.Search.Drop)
                (candidate, used) = (withCorrection, used with { BiasCorrection = true });
            // Accurate enough but slower, with factored layers: the same factors multiplied back at load run as one layer.
            if (TooSlowOnly(candidate) && sketch.Layers.Values.Any(l => l.Rank > 0)
                && Measure(sketch, used with { FoldFactors = true }) is { } folded)
                (candidate, used) = (folded, used with { FoldFactors = true });
            if (TooSlowOnly(candidate) && WithInt8Activations(sketch, used) is { } faster)
                (candidate, used) = faster;

            if (Holds(candidate))
            {
                if (candidate.SizeBytes < bestSize) (best, bestSize) = ((sketch, used), candidate.SizeBytes);
                holding = budget;
                if (double.IsNaN(failing))
                {
                    // Drops add up less than the sum of their parts: with room left, ask the knapsack for more.
                    if (candidate.Search.Drop >= budgets.MaxAccuracyDrop * BudgetUsedEnough) break;
                    budget *= Math.Min(MaxBudgetGrowth, budgets.MaxAccuracyDrop / Math.Max(candidate.Search.Drop, budgets.MaxAccuracyDrop / 4));
                    continue;
                }
            }
            else if (budgets.AllowsDrop(candidate.Search.Drop))
            {
                // Accurate enough but slower: the int4 layers are the ones that can be (small matrices); keep them out.
                var slower = options.SelectMany(o => o).Where(p => p.Setting?.Format == WeightFormat.Int4 && sketch.SettingOf(p.Unit) == p.Setting).ToList();
                if (slower.Count == 0) break;
                forbidden.UnionWith(slower);
                progress.Stage($"that combination is slower than the original: trying again without int4 on {string.Join(", ", slower.Select(p => p.Unit))}");
                continue;
            }
            else if (Blame(chosen, candidate, blame, Cost)) continue;
            else failing = budget;

            var next = double.IsNaN(holding) ? budget * Math.Min(MinBudgetShrink, budgets.MaxAccuracyDrop / Math.Max(candidate.Search.Drop, 1e-9)) : (holding + failing) / 2;
            if (!double.IsNaN(holding) && failing - holding < budgets.MaxAccuracyDrop * BudgetResolution) break;
            budget = next;
        }
        return best;
    }

    /// <summary>
    /// A combination that changed more than its options' summed drops: predictions (and options measured alone as free:
    /// a few hundred samples hide small changes) fall short together. The unexplained part is charged to the options in
    /// proportion to the bytes they save, so the knapsack weighs them next time; false when nothing is unexplained.
    /// </summary>
    private bool Blame(List<SettingProbe> chosen, Candidate combination, Dictionary<(string, LayerSetting?, double), double> blame, Func<SettingProbe, double> cost)
    {
        var unexplained = evaluator.SensitivityOf(combination.Plan, combination.Label) - _losslessSensitivity - chosen.Sum(cost);
        var saved = chosen.Sum(p => Math.Max(0, -p.Bytes));
        if (unexplained <= budgets.MaxAccuracyDrop * BudgetResolution || saved == 0) return false;
        foreach (var option in chosen.Where(p => p.Bytes < 0))
        {
            var key = (option.Unit, option.Setting, option.PruneRatio);
            blame[key] = blame.GetValueOrDefault(key) + unexplained * -option.Bytes / saved;
        }
        progress.Stage($"together the chosen settings changed {ReportWriter.Points(unexplained)} more than predicted: weighing the largest savings more");
        return true;
    }

    private bool Holds(Candidate c) => budgets.AllowsDrop(c.Search.Drop) && budgets.AllowsLatency(c.Latency);

    private bool TooSlowOnly(Candidate c) => budgets.AllowsDrop(c.Search.Drop) && !budgets.AllowsLatency(c.Latency);

    /// <summary>
    /// The sketch's int8 layers with quantized activations (static with each calibration, then dynamic), measured until
    /// one holds: those run on ONNX Runtime's integer kernels, where weight-only int8 runs in float, so a combination
    /// accurate enough but too slow may hold that way. Null when none holds (or the sketch has no such layer: the plans
    /// are then the one already measured).
    /// </summary>
    private (Candidate Candidate, QuantizationKnobs Knobs)? WithInt8Activations(CompressionSketch sketch, QuantizationKnobs knobs)
    {
        if (knobs.Int8 != Int8Form.Weights) return null;
        foreach (var variant in space.Int8Variants().Where(v => v.Int8 != Int8Form.Weights))
        {
            var form = knobs with { Int8 = variant.Int8, Calibration = variant.Calibration };
            if (Measure(sketch, form) is { } candidate && Holds(candidate)) return (candidate, form);
        }
        return null;
    }

    private Candidate? Measure(CompressionSketch sketch, QuantizationKnobs knobs) =>
        Measure(sketch.Describe(knobs, space.Layers.Count), PlanBuilder.Build(basePlan, sketch, knobs, space), sketch);

    private bool TimeIsUp()
    {
        if (_clock.Elapsed <= limits.MaxSearchTime) return false;
        if (!_timedOut) progress.Stage($"the search time ({Quantity.FormatDuration(limits.MaxSearchTime)}) is used up: choosing among the {_candidates.Count} candidates measured");
        _timedOut = true;
        return true;
    }

    private Candidate? Measure(string label, Plan plan, CompressionSketch sketch, bool force = false)
    {
        if (!force && TimeIsUp()) return null;
        if (_candidates.FirstOrDefault(c => c.Plan.Equals(plan)) is { } known) return known;
        var candidate = evaluator.Measure(label, plan) with { Sketch = sketch };
        if (budgets.AllowsDrop(candidate.Search.Drop)) candidate = evaluator.ConfirmLatency(candidate, budgets);
        _candidates.Add(candidate);
        progress.Candidate(new CandidateProgress(label, candidate.SizeBytes, candidate.Search.Score, candidate.Latency.Ratio,
            Holds(candidate) && budgets.AllowsSize(candidate.SizeBytes)));
        return candidate;
    }

    /// <summary>The measured probes, and every layer option's predicted drop as the predictor ends up calibrated (for the report).</summary>
    private PlannerResult Result(CompressionSketch solution)
    {
        var predicted = Options().Where(o => o.Kind == UnitKind.Layer && !o.Setting!.AssumedLossless && !_probes.Any(p => SameOption(p, o)))
            .Select(o => _predictor.Predict(o.Unit, o.Setting!) is { } drop ? o with { Drop = drop } : null).OfType<SettingProbe>();
        return new(_candidates, [.. _probes, .. predicted], solution, _timedOut, _clock.Elapsed, errors.Count, _probes.Count(p => !p.Predicted));
    }
}
