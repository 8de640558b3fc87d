namespace ModelCompression.Core.Planning;

/// <summary>Turns a per-layer precision assignment and the shared knobs into a plan, and names it.</summary>
public static class QuantizationPlans
{
    public static Plan Build(Plan basePlan, IReadOnlyDictionary<string, Precision> assignment, QuantizationKnobs knobs)
    {
        var steps = basePlan.Steps.ToList();
        var int8 = NodesAt(assignment, Precision.Int8);
        if (int8.Count > 0) steps.Add(PassCatalog.Step(PassCatalog.Int8Weights, int8));
        return new Plan(steps);
    }

    /// <summary>E.g. "int4 ×1, int8 ×5, fp32 ×1 (int8 static entropy)".</summary>
    public static string Describe(IReadOnlyDictionary<string, Precision> assignment, QuantizationKnobs knobs)
    {
        var counts = assignment.Values.GroupBy(p => p).OrderByDescending(g => g.Key).Select(g => $"{Precisions.Name(g.Key)} ×{g.Count()}");
        var form = assignment.Values.Contains(Precision.Int8) && knobs.Int8 != Int8Form.Weights ? $" (int8 {knobs.Int8.ToString().ToLowerInvariant()}{(knobs.Int8 == Int8Form.Static ? " " + knobs.Calibration : "")})" : "";
        var block = assignment.Values.Contains(Precision.Int4) ? $" (int4 block {knobs.Int4BlockSize})" : "";
        return string.Join(", ", counts) + form + block;
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
        PassCatalog.Int8Weights => Precision.Int8,
        _ => null,
    };

    private static List<string> NodesAt(IReadOnlyDictionary<string, Precision> assignment, Precision precision) =>
        assignment.Where(a => a.Value == precision).Select(a => a.Key).ToList();
}
