using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// int8: per-channel weights, in the form the knobs choose: weights only (float arithmetic, never slower), static QDQ
/// with calibrated activations, or dynamic. Layers the chosen form cannot take keep weight-only int8. Static int8 comes
/// first among the storage steps, so it calibrates the float activations of the same model for every candidate.
/// </summary>
public sealed class Int8Technique : ICompressionTechnique
{
    public string Name => "int8";

    public Technique Flag => Technique.Int8;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.Int8Weights] = (step, context) => new Int8WeightQuantization(PassCatalog.NodesOf(step), rounding: PassCatalog.RoundingOf(step), statistics: context.LayerStatistics),
        [PassCatalog.Int8Dynamic] = (step, _) => new Int8DynamicQuantization(PassCatalog.NodesOf(step)),
        [PassCatalog.Int8Static] = (step, context) => new PassCatalog.CalibratedStaticQuantization(PassCatalog.NodesOf(step), PassCatalog.StaticOptions(step), context),
    };

    public void Offer(LayerOptions options)
    {
        foreach (var node in Int8WeightQuantization.Eligible(options.Model).Select(w => w.Node).DistinctBy(n => n.Name))
            options.Allow(node.Name, node.OpType, [new LayerSetting(WeightFormat.Int8)]);
    }

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        // Data-aware int8 is weights-only: the static and dynamic passes quantize their weights their own way.
        var int8 = SketchNodes.With(sketch, WeightFormat.Int8, Rounding.Nearest);
        var byForm = knobs.Int8 switch
        {
            Int8Form.Static => int8.Where(space.StaticEligible.Contains).ToList(),
            Int8Form.Dynamic => int8.Where(space.DynamicEligible.Contains).ToList(),
            _ => [],
        };
        if (byForm.Count > 0)
            yield return (PlanStage.QuantizeActivations, knobs.Int8 == Int8Form.Static
                ? PassCatalog.Step(PassCatalog.Int8Static, byForm, (PassCatalog.CalibrationParameter, knobs.Calibration))
                : PassCatalog.Step(PassCatalog.Int8Dynamic, byForm));
        var weightsOnly = int8.Except(byForm).ToList();
        if (weightsOnly.Count > 0) yield return (PlanStage.QuantizeWeights, PassCatalog.Step(PassCatalog.Int8Weights, weightsOnly));
        var hessian = SketchNodes.With(sketch, WeightFormat.Int8, Rounding.Hessian);
        if (hessian.Count > 0) yield return (PlanStage.QuantizeWeights, PassCatalog.Step(PassCatalog.Int8Weights, hessian, SketchNodes.RoundingPair(Rounding.Hessian)));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass is not (PassCatalog.Int8Weights or PassCatalog.Int8Static or PassCatalog.Int8Dynamic)) return;
        foreach (var node in SketchNodes.Named(step)) reader.Store(node, new LayerSetting(WeightFormat.Int8), step);
    }

    public float[]? Store(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs)
    {
        if (setting.Format != WeightFormat.Int8) return null;
        var (codes, scales) = PerChannelQuantizer.Quantize(values, shape, axis);
        var inner = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        return codes.Select((c, i) => c * scales[(int)(i / inner % shape[axis])]).ToArray();
    }
}
