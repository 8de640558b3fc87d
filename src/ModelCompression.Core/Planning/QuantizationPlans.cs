using System.Globalization;

namespace ModelCompression.Core.Planning;

/// <summary>Turns a per-layer precision assignment and the shared knobs into a plan, and names it.</summary>
public static class QuantizationPlans
{
    /// <summary>
    /// The quantization steps after <paramref name="basePlan"/>. Static int8 comes first, so it calibrates
    /// the float activations of the lossless model (the same model for every candidate: calibrated once).
    /// Int8 layers the chosen form cannot take keep weight-only int8.
    /// </summary>
    public static Plan Build(Plan basePlan, IReadOnlyDictionary<string, Precision> assignment, QuantizationKnobs knobs, LayerCatalog catalog)
    {
        var steps = basePlan.Steps.ToList();
        var int8 = NodesAt(assignment, Precision.Int8);
        var byForm = knobs.Int8 switch
        {
            Int8Form.Static => int8.Where(catalog.StaticEligible.Contains).ToList(),
            Int8Form.Dynamic => int8.Where(catalog.DynamicEligible.Contains).ToList(),
            _ => [],
        };
        if (byForm.Count > 0)
            steps.Add(knobs.Int8 == Int8Form.Static
                ? PassCatalog.Step(PassCatalog.Int8Static, byForm, (PassCatalog.CalibrationParameter, knobs.Calibration))
                : PassCatalog.Step(PassCatalog.Int8Dynamic, byForm));
        var int4 = NodesAt(assignment, Precision.Int4);
        if (int4.Count > 0)
            steps.Add(PassCatalog.Step(PassCatalog.Int4Weights, int4,
                (PassCatalog.BlockParameter, knobs.Int4BlockSize.ToString(CultureInfo.InvariantCulture)),
                (PassCatalog.AccuracyLevelParameter, knobs.Int4AccuracyLevel.ToString(CultureInfo.InvariantCulture))));
        var weightsOnly = int8.Except(byForm).ToList();
        if (weightsOnly.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.Int8Weights, weightsOnly));
        var fp16 = NodesAt(assignment, Precision.Fp16);
        if (fp16.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.Fp16Weights, fp16));
        return new Plan(steps);
    }

    /// <summary>E.g. "int4 ×2, int8 ×4 (int8 static entropy; int4 block 64)".</summary>
    public static string Describe(IReadOnlyDictionary<string, Precision> assignment, QuantizationKnobs knobs)
    {
        var counts = assignment.Values.Where(p => p != Precision.Fp32 || assignment.Values.All(v => v == Precision.Fp32))
            .GroupBy(p => p).OrderByDescending(g => g.Key).Select(g => $"{Precisions.Name(g.Key)} ×{g.Count()}").ToList();
        var fp32 = assignment.Values.Count(p => p == Precision.Fp32);
        if (fp32 > 0 && fp32 < assignment.Count) counts.Add($"fp32 ×{fp32}");
        var details = new List<string>();
        if (assignment.Values.Contains(Precision.Int8) && knobs.Int8 != Int8Form.Weights) details.Add($"int8 {knobs.Int8Text}");
        if (assignment.Values.Contains(Precision.Int4)) details.Add($"int4 {knobs.Int4Text}");
        return string.Join(", ", counts) + (details.Count > 0 ? $" ({string.Join("; ", details)})" : "");
    }

    /// <summary>The precision each layer has in <paramref name="plan"/> (layers no quantization step names stay fp32).</summary>
    public static Dictionary<string, Precision> AssignmentOf(Plan plan, IEnumerable<LayerChoice> layers)
    {
        var assignment = layers.ToDictionary(l => l.Node, _ => Precision.Fp32, StringComparer.Ordinal);
        foreach (var step in plan.Steps)
        {
            if (PrecisionOf(step.Pass) is not { } precision || step.Parameter(PassCatalog.NodesParameter) is not { } nodes) continue;
            foreach (var node in nodes.Split(';', StringSplitOptions.RemoveEmptyEntries))
                if (assignment.ContainsKey(node)) assignment[node] = precision;
        }
        return assignment;
    }

    private static Precision? PrecisionOf(string pass) => pass switch
    {
        PassCatalog.Int8Weights or PassCatalog.Int8Static or PassCatalog.Int8Dynamic => Precision.Int8,
        PassCatalog.Int4Weights => Precision.Int4,
        PassCatalog.Fp16Weights => Precision.Fp16,
        _ => null,
    };

    private static List<string> NodesAt(IReadOnlyDictionary<string, Precision> assignment, Precision precision) =>
        assignment.Where(a => a.Value == precision).Select(a => a.Key).ToList();
}
