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
/// searched by bisection, since each step only makes the model more faithful. Around the first
/// assignment that holds, a bounded grid tries the shared knobs (int8 form and calibration, int4
/// block size). The time budget stops the search with what was measured so far.
/// </summary>
public sealed class QuantizationPlanner(
    CandidateEvaluator evaluator, Plan basePlan, IReadOnlyList<LayerChoice> layers, Budgets budgets,
    IReadOnlyList<QuantizationKnobs> knobVariants, TimeSpan maxSearchTime, SearchProgress progress)
{
    private readonly List<Candidate> _candidates = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private bool _timedOut;

    public PlannerResult Run()
    {
        var lossless = Measure("lossless", basePlan, force: true)!;
        var sensitivity = new List<LayerSensitivity>();
        if (layers.Count == 0) return Result(sensitivity, new Dictionary<string, Precision>());

        var knobs = knobVariants[0];
        var aggressive = layers.ToDictionary(l => l.Node, l => l.Max, StringComparer.Ordinal);
        var ladder = new List<Dictionary<string, Precision>> { aggressive };
        var first = Measure(aggressive, knobs);
        var chosenStep = 0;
        if (first is not null && !Holds(first))
        {
            progress.Stage($"all layers at their most aggressive precision break a budget: measuring each of the {layers.Count} layers alone");
            foreach (var layer in layers)
            {
                var alone = layers.ToDictionary(l => l.Node, l => l.Node == layer.Node ? l.Max : Precision.Fp32, StringComparer.Ordinal);
                var c = Measure(alone, knobs, $"{layer.Node} alone at {Precisions.Name(layer.Max)}", quiet: true);
                if (c is null) break;
                var drop = c.Search.Drop - lossless.Search.Drop;
                sensitivity.Add(new LayerSensitivity(layer.Node, layer.OpType, layer.Max, drop));
                progress.Sensitivity(layer.Node, Precisions.Name(layer.Max), drop, sensitivity.Count, layers.Count);
            }
            ladder = FallbackLadder(aggressive, sensitivity);
            chosenStep = Bisect(ladder, knobs);
        }
        var assignment = ladder[chosenStep];

        // The grid: the shared knobs on the assignment that holds and on the one just before it.
        var positions = chosenStep > 0 ? new[] { chosenStep, chosenStep - 1 } : [chosenStep];
        foreach (var position in positions)
            foreach (var variant in knobVariants.Skip(position == chosenStep ? 1 : 0))
                Measure(ladder[position], variant);
        return Result(sensitivity, assignment);
    }

    /// <summary>
    /// The assignments from all-aggressive to all-fp32: the most sensitive layer falls back one precision
    /// at a time down to fp32, then the next most sensitive, and so on.
    /// </summary>
    private List<Dictionary<string, Precision>> FallbackLadder(Dictionary<string, Precision> aggressive, List<LayerSensitivity> sensitivity)
    {
        var drops = sensitivity.ToDictionary(s => s.Node, s => s.Drop, StringComparer.Ordinal);
        var order = layers.OrderByDescending(l => drops.GetValueOrDefault(l.Node, double.MaxValue)).ThenBy(l => l.Node, StringComparer.Ordinal);
        var ladder = new List<Dictionary<string, Precision>> { aggressive };
        var current = new Dictionary<string, Precision>(aggressive, StringComparer.Ordinal);
        foreach (var layer in order)
        {
            while (current[layer.Node] != Precision.Fp32)
            {
                current[layer.Node] = Precisions.FallBack(current[layer.Node], layer.Precisions);
                ladder.Add(new Dictionary<string, Precision>(current, StringComparer.Ordinal));
            }
        }
        return ladder;
    }

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

    private Candidate? Measure(IReadOnlyDictionary<string, Precision> assignment, QuantizationKnobs knobs, string? label = null, bool quiet = false) =>
        Measure(label ?? QuantizationPlans.Describe(assignment, knobs), QuantizationPlans.Build(basePlan, assignment, knobs), quiet: quiet);

    private Candidate? Measure(string label, Plan plan, bool force = false, bool quiet = false)
    {
        if (!force && _clock.Elapsed > maxSearchTime)
        {
            if (!_timedOut) progress.Stage($"the search time ({Quantity.FormatDuration(maxSearchTime)}) is used up: choosing among the {_candidates.Count} candidates measured");
            _timedOut = true;
            return null;
        }
        if (_candidates.FirstOrDefault(c => c.Plan.Equals(plan)) is { } known) return known;
        var candidate = evaluator.Measure(label, plan);
        _candidates.Add(candidate);
        if (!quiet)
            progress.Candidate(new CandidateProgress(label, candidate.SizeBytes, candidate.Search.Score, candidate.Latency.Ratio,
                Holds(candidate) && budgets.AllowsSize(candidate.SizeBytes)));
        return candidate;
    }

    private PlannerResult Result(List<LayerSensitivity> sensitivity, IReadOnlyDictionary<string, Precision> assignment) =>
        new(_candidates, sensitivity, assignment, _timedOut, _clock.Elapsed);
}
