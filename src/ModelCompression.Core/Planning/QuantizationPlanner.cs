using System.Diagnostics;
using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Planning;

/// <summary>How much a layer alone costs: the search-split drop when only it is quantized, at its most aggressive precision.</summary>
public sealed record LayerSensitivity(string Node, string OpType, Precision Tested, double Drop);

/// <summary>What the search measured, and the precision it settled on per layer.</summary>
public sealed record PlannerResult(
    IReadOnlyList<Candidate> Candidates,
    IReadOnlyList<LayerSensitivity> Sensitivity,
    IReadOnlyDictionary<string, Precision> Assignment,
    bool TimedOut,
    TimeSpan Elapsed);

/// <summary>
/// The accuracy-aware search. Every layer starts at its most aggressive precision; if that breaks a
/// budget on the search split, each layer's sensitivity is measured (quantized alone), and the most
/// sensitive layers fall back step by step (int4 → int8 → fp16 → fp32) — the fallback ladder is
/// searched by bisection, since each step only makes the model more faithful — and a refinement pass
/// takes back the steps that were not needed. Around the assignment that holds, a bounded grid tries
/// the shared knobs (int8 form and calibration, int4 block size and accuracy level). The time budget stops the search with what was measured so far.
/// </summary>
public sealed class QuantizationPlanner(
    CandidateEvaluator evaluator, Plan basePlan, LayerCatalog catalog, Budgets budgets, TimeSpan maxSearchTime, SearchProgress progress,
    IEnumerable<Candidate>? measured = null)
{
    private readonly IReadOnlyList<LayerChoice> layers = catalog.Layers;
    private readonly List<Candidate> _candidates = [.. measured ?? []];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _timedOut;

    public PlannerResult Run()
    {
        var lossless = Measure("lossless", basePlan, force: true)!;
        var sensitivity = new List<LayerSensitivity>();
        if (layers.Count == 0) return Result(sensitivity, new Dictionary<string, Precision>());

        var knobs = QuantizationKnobs.Default;
        var aggressive = layers.ToDictionary(l => l.Node, l => l.Max, StringComparer.Ordinal);
        var ladder = new List<Dictionary<string, Precision>> { aggressive };
        var first = Measure(aggressive, knobs);
        var chosenStep = 0;
        if (first is not null && !Holds(first))
        {
            progress.Stage($"all layers at their most aggressive precision break a budget: measuring each of the {layers.Count} layers alone");
            foreach (var layer in layers)
            {
                if (TimeIsUp()) break;
                var alone = layers.ToDictionary(l => l.Node, l => l.Node == layer.Node ? l.Max : Precision.Fp32, StringComparer.Ordinal);
                var probe = evaluator.MeasureScore(QuantizationPlans.Build(basePlan, alone, knobs, catalog), $"{layer.Node} alone at {Precisions.Name(layer.Max)}");
                var drop = probe.Drop - lossless.Search.Drop;
                sensitivity.Add(new LayerSensitivity(layer.Node, layer.OpType, layer.Max, drop));
                progress.Sensitivity(layer.Node, Precisions.Name(layer.Max), drop, sensitivity.Count, layers.Count);
            }
            ladder = FallbackLadder(aggressive, sensitivity);
            chosenStep = Bisect(ladder, knobs);
        }
        var assignment = chosenStep > 0 ? Refine(ladder[chosenStep], knobs) : ladder[chosenStep];

        // The grid: every int8 form × every int4 setting on the assignment that holds; on the one just
        // before it (which failed with the default knobs), each knob on its own, since a better
        // calibration or block size may be what it lacked.
        foreach (var int8 in catalog.Int8Variants())
            foreach (var variant in catalog.Int4Variants(int8))
                Measure(assignment, variant);
        if (chosenStep > 0)
            foreach (var variant in catalog.Int8Variants().Concat(catalog.Int4Variants(knobs)))
                Measure(ladder[chosenStep - 1], variant);
        return Result(sensitivity, assignment);
    }

    /// <summary>
    /// The ladder falls back whole steps; this takes back what it gave too much: each layer below its
    /// most aggressive precision tries the next more aggressive one (largest saving first) and keeps it
    /// when the budgets still hold, in passes until nothing more holds.
    /// </summary>
    private Dictionary<string, Precision> Refine(Dictionary<string, Precision> assignment, QuantizationKnobs knobs)
    {
        var refined = new Dictionary<string, Precision>(assignment, StringComparer.Ordinal);
        for (var improved = true; improved;)
        {
            improved = false;
            var tries = layers.Select(l => (Layer: l, More: l.Precisions.Where(p => p > refined[l.Node]).DefaultIfEmpty().Min()))
                .Where(t => t.More > refined[t.Layer.Node])
                .OrderByDescending(t => t.Layer.Parameters * (StorageBits(refined[t.Layer.Node]) - StorageBits(t.More)))
                .ThenBy(t => t.Layer.Node, StringComparer.Ordinal)
                .ToList();
            foreach (var (layer, more) in tries)
            {
                var trial = new Dictionary<string, Precision>(refined, StringComparer.Ordinal) { [layer.Node] = more };
                var candidate = Measure(trial, knobs);
                if (candidate is null) return refined;
                if (!Holds(candidate)) continue;
                refined = trial;
                improved = true;
            }
        }
        return refined;
    }

    private static int StorageBits(Precision precision) => precision switch
    {
        Precision.Int4 => 4,
        Precision.Int8 => 8,
        Precision.Fp16 => 16,
        _ => 32,
    };

    /// <summary>
    /// The assignments from all-aggressive to all-fp32, one layer falling back one precision per step.
    /// Each step takes the layer whose estimated drop at its current precision is largest: its measured
    /// drop alone at the most aggressive precision, scaled down by how much finer each fallback's grid is
    /// (int4 → int8: 16× finer steps, int8 → fp16: 8×). So a very sensitive layer falls back again only
    /// after less sensitive layers have left int4; on ties the more aggressive precision falls back first.
    /// </summary>
    private List<Dictionary<string, Precision>> FallbackLadder(Dictionary<string, Precision> aggressive, List<LayerSensitivity> sensitivity)
    {
        var drops = sensitivity.ToDictionary(s => s.Node, s => Math.Max(0, s.Drop), StringComparer.Ordinal);
        var byNode = layers.ToDictionary(l => l.Node, StringComparer.Ordinal);
        double Estimated(string node, Precision at) =>
            drops.TryGetValue(node, out var drop) ? drop / Math.Pow(2, GridBits(byNode[node].Max) - GridBits(at)) : double.MaxValue;
        var ladder = new List<Dictionary<string, Precision>> { aggressive };
        var current = new Dictionary<string, Precision>(aggressive, StringComparer.Ordinal);
        while (current.Values.Any(p => p != Precision.Fp32))
        {
            var next = current.Where(c => c.Value != Precision.Fp32)
                .OrderByDescending(c => Estimated(c.Key, c.Value)).ThenByDescending(c => c.Value).ThenBy(c => c.Key, StringComparer.Ordinal)
                .First().Key;
            current[next] = Precisions.FallBack(current[next], byNode[next].Precisions);
            ladder.Add(new Dictionary<string, Precision>(current, StringComparer.Ordinal));
        }
        return ladder;
    }

    // Mantissa bits of each precision's grid: the quantization step halves with every bit.
    private static int GridBits(Precision precision) => precision switch
    {
        Precision.Int4 => 4,
        Precision.Int8 => 8,
        Precision.Fp16 => 11,
        _ => 24,
    };

    // The first ladder step whose candidate holds on the search split. Step 0 is known to fail; the last
    // (all fp32) is the lossless model, which holds.
    private int Bisect(List<Dictionary<string, Precision>> ladder, QuantizationKnobs knobs)
    {
        int failing = 0, holding = ladder.Count - 1;
        while (holding - failing > 1)
        {
            var middle = (failing + holding) / 2;
            var candidate = Measure(ladder[middle], knobs);
            if (candidate is null) break;
            if (Holds(candidate)) holding = middle;
            else failing = middle;
        }
        return holding;
    }

    private bool Holds(Candidate c) =>
        budgets.AllowsDrop(c.Search.Drop) && budgets.AllowsLatency(c.Latency);

    private Candidate? Measure(IReadOnlyDictionary<string, Precision> assignment, QuantizationKnobs knobs) =>
        Measure(QuantizationPlans.Describe(assignment, knobs), QuantizationPlans.Build(basePlan, assignment, knobs, catalog));

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

    private PlannerResult Result(List<LayerSensitivity> sensitivity, IReadOnlyDictionary<string, Precision> assignment) =>
        new(_candidates, sensitivity, assignment, _timedOut, _clock.Elapsed);
}
