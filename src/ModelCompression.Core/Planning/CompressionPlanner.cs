using System.Globalization;
using System.Diagnostics;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>What a knapsack unit is: a layer's weights, or a group of coupled channels.</summary>
public enum UnitKind { Layer, Channels }

/// <summary>
/// One option of one unit measured alone on the search split: a layer's setting, or a share of a
/// channel group pruned; what it saves and what it costs.
/// </summary>
/// <param name="Unit">The layer's node name, or the channel group's id.</param>
/// <param name="Bytes">The size change of the model (negative: saved).</param>
/// <param name="Drop">The score drop (0 for settings assumed lossless, and for rises).</param>
public sealed record SettingProbe(UnitKind Kind, string Unit, string OpType, LayerSetting? Setting, double PruneRatio, long Bytes, double Drop)
{
    public string Label => Setting?.ToString() ?? string.Create(CultureInfo.InvariantCulture, $"{PruneRatio:P0} of its channels pruned");

    public CompressionSketch ApplyTo(CompressionSketch sketch) =>
        Setting is { } setting ? sketch.With(Unit, setting) : sketch.WithPruning(Unit, PruneRatio);
}

/// <summary>What the search measured, and the sketch it settled on.</summary>
public sealed record PlannerResult(
    IReadOnlyList<Candidate> Candidates,
    IReadOnlyList<SettingProbe> Probes,
    CompressionSketch Solution,
    bool TimedOut,
    TimeSpan Elapsed);

/// <summary>
/// The accuracy-aware search. Every layer at its smallest setting first; when that breaks a budget on
/// the search split, every setting of every layer is measured alone (largest layers first: its size
/// change and its score drop), and a multiple-choice knapsack picks the smallest combination whose
/// summed drop fits the budget. Drops only roughly add up, so the combination is measured: if it
/// breaks the budget the knapsack runs again with a tighter one, if it holds with room to spare a
/// looser one, then bisects between the two; a setting that made the combination slower is dropped. This runs
/// per family — quantization only, then per-layer structure, then channel pruning too — and on each solution a bounded grid tries the shared knobs (int8 form and calibration, int4 block size and accuracy level)
/// on the solution. The time budget stops the search with what was measured so far.
/// </summary>
public sealed class CompressionPlanner(
    CandidateEvaluator evaluator, Plan basePlan, CompressionSpace space, Budgets budgets, TimeSpan maxSearchTime, SearchProgress progress,
    IEnumerable<Candidate>? measured = null, IEnumerable<SettingProbe>? probed = null)
{
    /// <summary>Probing stops at this share of the search time, so that what was probed is still combined and measured.</summary>
    public const double ProbingShare = 0.7;

    /// <summary>How many combinations the knapsack proposes at most before the search settles.</summary>
    public const int MaxSolveRounds = 10;

    private readonly List<Candidate> _candidates = [.. measured ?? []];
    private readonly List<SettingProbe> _probes = [.. probed ?? []];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _timedOut;

    public PlannerResult Run()
    {
        var lossless = Measure("lossless", basePlan, force: true)!;
        // What the lossless rewrites alone change (float rounding): no option is charged for it.
        _losslessSensitivity = evaluator.SensitivityOf(lossless.Plan, lossless.Label);
        if (space.Layers.Count == 0 && space.Pruning.Count == 0) return Result(CompressionSketch.Unchanged);

        // Each family is searched on its own so that each family's best is a candidate: when the riskier one
        // misses on the validation data, the safer one is there.
        var solution = CompressionSketch.Unchanged;
        foreach (var family in Families())
        {
            (solution, var knobs) = SolveFamily(lossless, family);
            foreach (var int8 in space.Int8Variants())
                foreach (var variant in space.Int4Variants(int8))
                    Measure(solution, variant with { BiasCorrection = knobs.BiasCorrection, FoldFactors = knobs.FoldFactors });
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
    /// Every unit at its smallest option in the family first; if that breaks a budget, probe (once) and solve.
    /// Returns the family's solution and the knobs it holds with (bias correction, folded factors).
    /// </summary>
    private (CompressionSketch Sketch, QuantizationKnobs Knobs) SolveFamily(Candidate lossless, Func<SettingProbe, bool> family)
    {
        var knobs = QuantizationKnobs.Default;
        var all = Options().Where(family).ToList();
        var smallest = all.GroupBy(o => (o.Kind, o.Unit)).Aggregate(CompressionSketch.Unchanged,
            (sketch, unit) => unit.MinBy(EstimatedBits)!.ApplyTo(sketch));
        var first = Measure(smallest, knobs);
        if (first is not null && Holds(first)) return (smallest, knobs);
        // Only this family's options not probed yet: the safer families are probed (and solved) before the time
        // budget goes to the riskier ones (ppocr-rec: every option of every layer takes longer than 10 minutes).
        var unprobed = all.Where(o => !_probes.Any(p => SameOption(p, o))).ToList();
        if (unprobed.Count > 0)
        {
            progress.Stage($"the smallest settings break a budget: measuring {unprobed.Count} settings of the {unprobed.Select(o => o.Unit).Distinct().Count()} layers and channel groups alone");
            Probe(lossless, knobs, unprobed);
        }
        return Solve(knobs, family);
    }

    /// <summary>
    /// Bits per original weight an option leaves, estimated without applying it (k-means and SVD on a large model take
    /// minutes over every option): enough to find each unit's smallest option. A rank-k factorization of an m × n weight
    /// keeps k(m + n)/mn of it, at least 2k/√(mn).
    /// </summary>
    private double EstimatedBits(SettingProbe option)
    {
        if (option.Setting is not { } setting) return 32 * (1 - option.PruneRatio);
        var parameters = Math.Max(1, space.Layers.FirstOrDefault(l => l.Node == option.Unit)?.Parameters ?? 1);
        return setting.NominalBits * (setting.Rank > 0 ? Math.Min(1, 2.0 * setting.Rank / Math.Sqrt(parameters)) : 1);
    }

    private double _losslessSensitivity;

    /// <summary>Every option of every unit (unmeasured), largest units first.</summary>
    private IEnumerable<SettingProbe> Options() =>
        space.Layers.Select(l => (l.Parameters, Options: l.Settings.Select(setting => new SettingProbe(UnitKind.Layer, l.Node, l.OpType, setting, 0, 0, 0))))
            .Concat(space.Pruning.Select(g => (g.Parameters, Options: g.Ratios.Select(ratio => new SettingProbe(UnitKind.Channels, g.Group, "channels", null, ratio, 0, 0)))))
            .OrderByDescending(u => u.Parameters)
            .SelectMany(u => u.Options);

    private static bool SameOption(SettingProbe a, SettingProbe b) =>
        a.Kind == b.Kind && a.Unit == b.Unit && a.Setting == b.Setting && a.PruneRatio == b.PruneRatio;

    /// <summary>Each of <paramref name="options"/> alone, largest units first (so a tight time budget probes what matters most).</summary>
    private void Probe(Candidate lossless, QuantizationKnobs knobs, IReadOnlyList<SettingProbe> options)
    {
        var done = 0;
        foreach (var option in options)
        {
            if (_clock.Elapsed > maxSearchTime * ProbingShare)
            {
                progress.Stage(string.Create(CultureInfo.InvariantCulture, $"{ProbingShare:P0} of the search time is used: solving with the {done} of {options.Count} settings measured"));
                return;
            }
            var plan = PlanBuilder.Build(basePlan, option.ApplyTo(CompressionSketch.Unchanged), knobs, space);
            var (sensitivity, size) = evaluator.Probe(plan, $"{option.Unit} alone at {option.Label}", measure: option.Setting is not { AssumedLossless: true });
            var probe = option with { Bytes = size - lossless.SizeBytes, Drop = Math.Max(0, sensitivity - _losslessSensitivity) };
            _probes.Add(probe);
            progress.Sensitivity(probe.Unit, probe.Label, probe.Drop, ++done, options.Count, evaluator.SensitivityMeasure);
        }
    }

    /// <summary>
    /// Knapsack, measure, adjust the budget (bisecting between one that held and one that did not). A combination
    /// too inaccurate as it is is measured again with bias correction, which often recovers it
    /// (fashion-cnn, rank 39 + 3-bit palettes: 91.41% → 92.38% on the search split).
    /// </summary>
    private (CompressionSketch Sketch, QuantizationKnobs Knobs) Solve(QuantizationKnobs knobs, Func<SettingProbe, bool> family)
    {
        var forbidden = new HashSet<SettingProbe>();
        var blame = new Dictionary<SettingProbe, double>();
        double Cost(SettingProbe p) => p.Drop + blame.GetValueOrDefault(p);
        var best = (Sketch: CompressionSketch.Unchanged, Knobs: knobs);
        long bestSize = long.MaxValue;
        double budget = budgets.MaxAccuracyDrop, holding = double.NaN, failing = double.NaN;
        for (var round = 0; round < MaxSolveRounds; round++)
        {
            var units = space.Layers.Select(l => (UnitKind.Layer, l.Node)).Concat(space.Pruning.Select(g => (UnitKind.Channels, g.Group))).ToList();
            var options = units.Select(u => _probes.Where(p => p.Kind == u.Item1 && p.Unit == u.Item2 && family(p) && !forbidden.Contains(p)).ToList()).ToList();
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
            if (budgets.AllowsDrop(candidate.Search.Drop) && !budgets.AllowsLatency(candidate.Latency) && sketch.Layers.Values.Any(l => l.Rank > 0)
                && Measure(sketch, used with { FoldFactors = true }) is { } folded)
                (candidate, used) = (folded, used with { FoldFactors = true });

            if (Holds(candidate))
            {
                if (candidate.SizeBytes < bestSize) (best, bestSize) = ((sketch, used), candidate.SizeBytes);
                holding = budget;
                if (double.IsNaN(failing))
                {
                    // Drops add up less than the sum of their parts: with room left, ask the knapsack for more.
                    if (candidate.Search.Drop >= budgets.MaxAccuracyDrop * 0.8) break;
                    budget *= Math.Min(2, budgets.MaxAccuracyDrop / Math.Max(candidate.Search.Drop, budgets.MaxAccuracyDrop / 4));
                    continue;
                }
            }
            else if (budgets.AllowsDrop(candidate.Search.Drop))
            {
                // Accurate enough but slower: the int4 layers are the ones that can be (small matrices); keep them out.
                var slower = _probes.Where(p => p.Setting?.Format == WeightFormat.Int4 && sketch.SettingOf(p.Unit) == p.Setting).ToList();
                if (slower.Count == 0) break;
                forbidden.UnionWith(slower);
                progress.Stage($"that combination is slower than the original: trying again without int4 on {string.Join(", ", slower.Select(p => p.Unit))}");
                continue;
            }
            else if (Blame(chosen, candidate, blame, Cost)) continue;
            else failing = budget;

            var next = double.IsNaN(holding) ? budget * Math.Min(0.7, budgets.MaxAccuracyDrop / Math.Max(candidate.Search.Drop, 1e-9)) : (holding + failing) / 2;
            if (!double.IsNaN(holding) && failing - holding < budgets.MaxAccuracyDrop / 16) break;
            budget = next;
        }
        return best;
    }

    /// <summary>
    /// A combination that changed more than its options' summed sensitivities: the options measured alone as free
    /// (a few hundred samples hide small changes) are not, together. The unexplained part is charged to the options
    /// in proportion to the bytes they save, so the knapsack weighs them next time; false when nothing is unexplained.
    /// </summary>
    private bool Blame(List<SettingProbe> chosen, Candidate combination, Dictionary<SettingProbe, double> blame, Func<SettingProbe, double> cost)
    {
        var unexplained = evaluator.SensitivityOf(combination.Plan, combination.Label) - _losslessSensitivity - chosen.Sum(cost);
        var saved = chosen.Sum(p => Math.Max(0, -p.Bytes));
        if (unexplained <= budgets.MaxAccuracyDrop / 16 || saved == 0) return false;
        foreach (var option in chosen.Where(p => p.Bytes < 0))
            blame[option] = blame.GetValueOrDefault(option) + unexplained * -option.Bytes / saved;
        progress.Stage($"together the chosen settings changed {ReportWriter.Points(unexplained)} more than alone: weighing the largest savings more");
        return true;
    }

    private bool Holds(Candidate c) => budgets.AllowsDrop(c.Search.Drop) && budgets.AllowsLatency(c.Latency);

    private Candidate? Measure(CompressionSketch sketch, QuantizationKnobs knobs) =>
        Measure(sketch.Describe(knobs, space.Layers.Count), PlanBuilder.Build(basePlan, sketch, knobs, space));

    private bool TimeIsUp()
    {
        if (_clock.Elapsed <= maxSearchTime) return false;
        if (!_timedOut) progress.Stage($"the search time ({Quantity.FormatDuration(maxSearchTime)}) is used up: choosing among the {_candidates.Count} candidates measured");
        _timedOut = true;
        return true;
    }

    private Candidate? Measure(string label, Plan plan, bool force = false)
    {
        if (!force && TimeIsUp()) return null;
        if (_candidates.FirstOrDefault(c => c.Plan.Equals(plan)) is { } known) return known;
        var candidate = evaluator.Measure(label, plan);
        if (budgets.AllowsDrop(candidate.Search.Drop)) candidate = evaluator.ConfirmLatency(candidate, budgets);
        _candidates.Add(candidate);
        progress.Candidate(new CandidateProgress(label, candidate.SizeBytes, candidate.Search.Score, candidate.Latency.Ratio,
            Holds(candidate) && budgets.AllowsSize(candidate.SizeBytes)));
        return candidate;
    }

    private PlannerResult Result(CompressionSketch solution) => new(_candidates, _probes, solution, _timedOut, _clock.Elapsed);
}
