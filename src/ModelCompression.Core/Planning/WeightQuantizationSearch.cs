using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Planning;

/// <summary>
/// The search of the walking skeleton: the lossless plan; then int8 weights on every layer; if that
/// breaks the accuracy budget, int8 per layer — measure each layer's sensitivity (its drop when
/// quantized alone) and keep int8 on the least sensitive layers, giving up the most sensitive one
/// at a time until the budget holds.
/// </summary>
/// <param name="measure">Scores a candidate model on the validation samples.</param>
public sealed class WeightQuantizationSearch(
    ModelProto source, Plan basePlan, double originalScore, Budgets budgets, Func<ModelProto, string, double> measure, ICompressionLog log)
{
    private readonly List<Candidate> _candidates = [];

    /// <summary>Every candidate measured, in the order tried; the first is <paramref name="basePlan"/>.</summary>
    public IReadOnlyList<Candidate> Run(bool allowInt8)
    {
        var baseModel = PassCatalog.Apply(source, basePlan);
        Measure("lossless", basePlan, baseModel);
        var layers = QuantizableLayers(baseModel);
        if (!allowInt8 || layers.Count == 0) return _candidates;

        if (WithinBudget(Measure("int8", basePlan.Then(PassCatalog.Int8WeightsStep()))) || layers.Count == 1)
            return _candidates;

        log.Info($"  int8 on every layer breaks the budget: measuring each of the {layers.Count} layers alone");
        var sensitivity = layers.ToDictionary(layer => layer, layer =>
            originalScore - MeasureScore($"int8 {layer}", basePlan.Then(PassCatalog.Int8WeightsStep([layer]))));
        var leastSensitiveFirst = layers.OrderBy(l => sensitivity[l]).ThenBy(l => l, StringComparer.Ordinal).ToList();
        for (var keep = layers.Count - 1; keep >= 1; keep--)
        {
            var kept = leastSensitiveFirst.Take(keep).ToList();
            var candidate = Measure($"int8 on {keep}/{layers.Count} layers", basePlan.Then(PassCatalog.Int8WeightsStep(kept)));
            if (WithinBudget(candidate)) break;
        }
        return _candidates;
    }

    private bool WithinBudget(Candidate candidate) => budgets.AllowsDrop(candidate.Drop(originalScore));

    private Candidate Measure(string label, Plan plan, ModelProto? model = null)
    {
        model ??= PassCatalog.Apply(source, plan);
        var candidate = new Candidate(label, plan, model, measure(model, label), OnnxModelFile.SizeOf(model));
        _candidates.Add(candidate);
        log.Info($"  candidate {_candidates.Count}: {label,-28} {Quantity.FormatSize(candidate.SizeBytes),10}  score {candidate.Score:0.0000} (drop {100 * candidate.Drop(originalScore):+0.00;-0.00} pt)");
        return candidate;
    }

    private double MeasureScore(string label, Plan plan)
    {
        var score = measure(PassCatalog.Apply(source, plan), label);
        log.Detail($"  sensitivity {label}: drop {100 * (originalScore - score):+0.000;-0.000} pt");
        return score;
    }

    private static List<string> QuantizableLayers(ModelProto model) =>
        Int8WeightQuantization.Eligible(model).Select(w => w.Node.Name).Distinct().ToList();
}
