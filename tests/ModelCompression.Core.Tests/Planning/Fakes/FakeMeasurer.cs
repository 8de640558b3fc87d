using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Tests.Planning.Fakes;

/// <summary>
/// A model the planner cannot tell from a real one: sizes follow each layer's nominal bits, the drop of a sketch is the
/// sum of each layer's true coefficient times its option's error, plus <see cref="Interaction"/> of that sum squared
/// (drops add up worse than alone), and the latency is what <see cref="LatencyRatioOf"/> says of the plan (by default the
/// original's). No model runs.
/// </summary>
internal sealed class FakeMeasurer(CompressionSpace space, IReadOnlyDictionary<string, double> trueCoefficients, Func<string, LayerSetting, double> error) : ICandidateMeasurer
{
    public const double OriginalScore = 0.9;

    public double Interaction { get; init; }

    /// <summary>A plan's latency over the original's.</summary>
    public Func<Plan, double> LatencyRatioOf { get; init; } = _ => 1;

    public int Evaluations { get; private set; }

    public double Resolution => 1.0 / 512;

    public string? SensitivityMeasure => null;

    public List<string> Measured { get; } = [];

    public double DropOf(CompressionSketch sketch)
    {
        var sum = sketch.Layers.Sum(l => trueCoefficients[l.Key] * (l.Value.AssumedLossless ? 0 : error(l.Key, l.Value)));
        sum += sketch.Pruning.Sum(p => p.Value * 0.02);
        return sum + Interaction * sum * sum;
    }

    public long SizeOf(CompressionSketch sketch) =>
        space.Layers.Sum(l => (long)(l.Parameters * sketch.SettingOf(l.Node).NominalBits / 8 * (1 - sketch.Pruning.GetValueOrDefault(l.Node))));

    public Candidate Measure(string label, Plan plan)
    {
        Evaluations++;
        Measured.Add(label);
        var sketch = PlanBuilder.SketchOf(plan);
        return new Candidate(label, plan, () => new ModelProto(), plan.ToString(), SizeOf(sketch),
            new Measurement(OriginalScore - DropOf(sketch), OriginalScore, 512),
            new LatencyComparison(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(LatencyRatioOf(plan))));
    }

    public double SensitivityOf(Plan plan, string label) => DropOf(PlanBuilder.SketchOf(plan));

    public (double Sensitivity, long SizeBytes) Probe(Plan plan, string label)
    {
        Evaluations++;
        var sketch = PlanBuilder.SketchOf(plan);
        return (DropOf(sketch), SizeOf(sketch));
    }

    public Candidate ConfirmLatency(Candidate candidate, Budgets budgets) => candidate;
}
