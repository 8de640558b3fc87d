using System.Diagnostics;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>One layer's setting measured alone on the search split: what it saves and what it costs.</summary>
/// <param name="Bytes">The size change of the model (negative: saved).</param>
/// <param name="Drop">The score drop (0 for settings assumed lossless, and for rises).</param>
public sealed record SettingProbe(string Node, string OpType, LayerSetting Setting, long Bytes, double Drop);

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
/// looser one, then bisects between the two; a setting that made the combination slower is dropped. Finally a
/// bounded grid tries the shared knobs (int8 form and calibration, int4 block size and accuracy level)
/// on the solution. The time budget stops the search with what was measured so far.
/// </summary>
public sealed class CompressionPlanner(
    CandidateEvaluator evaluator, Plan basePlan, CompressionSpace space, Budgets budgets, TimeSpan maxSearchTime, SearchProgress progress,
    IEnumerable<Candidate>? measured = null, IEnumerable<SettingProbe>? probed = null)
{
    /// <summary>How many combinations the knapsack proposes at most before the search settles.</summary>
    public const int MaxSolveRounds = 8;

    private readonly List<Candidate> _candidates = [.. measured ?? []];
    private readonly List<SettingProbe> _probes = [.. probed ?? []];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _timedOut;

    public PlannerResult Run()
    {
        var lossless = Measure("lossless", basePlan, force: true)!;
        if (space.Layers.Count == 0) return Result(CompressionSketch.Unchanged);

        var knobs = QuantizationKnobs.Default;
        var smallest = space.Layers.Aggregate(CompressionSketch.Unchanged, (s, l) => s.With(l.Node, l.Settings.MinBy(v => v.NominalBits)!));
        var first = Measure(smallest, knobs);
        CompressionSketch solution;
        if (first is not null && Holds(first)) solution = smallest;
        else
        {
            if (_probes.Count == 0)
            {
                progress.Stage($"every layer at its smallest setting breaks a budget: measuring each setting of the {space.Layers.Count} layers alone");
                Probe(lossless, knobs);
            }
            solution = Solve(knobs);
        }

        foreach (var int8 in space.Int8Variants())
            foreach (var variant in space.Int4Variants(int8))
                Measure(solution, variant);
        return Result(solution);
    }

    private void Probe(Candidate lossless, QuantizationKnobs knobs)
    {
        var total = space.Layers.Sum(l => l.Settings.Count);
        foreach (var layer in space.Layers.OrderByDescending(l => l.Parameters).ThenBy(l => l.Node, StringComparer.Ordinal))
        {
            foreach (var setting in layer.Settings)
            {
                if (TimeIsUp()) return;
                var plan = PlanBuilder.Build(basePlan, CompressionSketch.Unchanged.With(layer.Node, setting), knobs, space);
                long bytes;
                double drop;
                if (setting.AssumedLossless)
                    (bytes, drop) = (evaluator.SizeOf(plan) - lossless.SizeBytes, 0);
                else
                {
                    var (search, size) = evaluator.MeasureScore(plan, $"{layer.Node} alone at {setting}");
                    (bytes, drop) = (size - lossless.SizeBytes, Math.Max(0, search.Drop - lossless.Search.Drop));
                }
                _probes.Add(new SettingProbe(layer.Node, layer.OpType, setting, bytes, drop));
                progress.Sensitivity(layer.Node, setting.ToString(), drop, _probes.Count, total);
            }
        }
    }

    /// <summary>Knapsack, measure, adjust the budget (bisecting between one that held and one that did not).</summary>
    private CompressionSketch Solve(QuantizationKnobs knobs)
    {
        var forbidden = new HashSet<SettingProbe>();
        var best = CompressionSketch.Unchanged;
        long bestSize = long.MaxValue;
        double budget = budgets.MaxAccuracyDrop, holding = double.NaN, failing = double.NaN;
        for (var round = 0; round < MaxSolveRounds; round++)
        {
            var options = space.Layers.Select(l => _probes.Where(p => p.Node == l.Node && !forbidden.Contains(p)).ToList()).ToList();
            var choice = MultipleChoiceKnapsack.Solve(
                options.Select(o => (IReadOnlyList<KnapsackOption>)[new KnapsackOption(0, 0), .. o.Select(p => new KnapsackOption(p.Bytes, p.Drop))]).ToList(),
                budget);
            if (choice is null) break;
            var sketch = CompressionSketch.Unchanged;
            for (var i = 0; i < choice.Length; i++)
                if (choice[i] > 0) sketch = sketch.With(space.Layers[i].Node, options[i][choice[i] - 1].Setting);
            var candidate = Measure(sketch, knobs);
            if (candidate is null) break;

            if (Holds(candidate))
            {
                if (candidate.SizeBytes < bestSize) (best, bestSize) = (sketch, candidate.SizeBytes);
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
                var slower = _probes.Where(p => p.Setting.Format == WeightFormat.Int4 && sketch.SettingOf(p.Node) == p.Setting).ToList();
                if (slower.Count == 0) break;
                forbidden.UnionWith(slower);
                progress.Stage($"that combination is slower than the original: trying again without int4 on {string.Join(", ", slower.Select(p => p.Node))}");
                continue;
            }
            else failing = budget;

            var next = double.IsNaN(holding) ? budget * Math.Min(0.7, budgets.MaxAccuracyDrop / Math.Max(candidate.Search.Drop, 1e-9)) : (holding + failing) / 2;
            if (!double.IsNaN(holding) && failing - holding < budgets.MaxAccuracyDrop / 16) break;
            budget = next;
        }
        return best;
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
