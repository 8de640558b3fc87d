using ModelCompression.Core.Passes.Distillation;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// distill: weights fine-tuned against the original model (knowledge distillation) replace the pruned and factored
/// layers' float weights before storage. It offers no per-layer option: the distillation search trains whole sketches
/// (<see cref="DistillationSearch"/>); the step names the trained weights file beside the lock and its hash.
/// </summary>
public sealed class DistillTechnique : ICompressionTechnique
{
    public const string FileParameter = "file";
    public const string Sha256Parameter = "sha256";

    public string Name => "distill";

    public Technique Flag => Technique.Distill;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [TrainedWeightsPass.PassName] = (step, context) => new TrainedWeightsPass(context.TrainedWeights.Get(
            step.Parameter(FileParameter) ?? throw new FormatException($"the step has no '{FileParameter}'"),
            step.Parameter(Sha256Parameter) ?? throw new FormatException($"the step has no '{Sha256Parameter}'"))),
    };

    public IEnumerable<(PlanStage Stage, PassStep Step)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        if (sketch.Distilled is { } weights)
            yield return (PlanStage.Distill, new PassStep(TrainedWeightsPass.PassName, [
                KeyValuePair.Create(FileParameter, weights.File), KeyValuePair.Create(Sha256Parameter, weights.Sha256)]));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass == TrainedWeightsPass.PassName && step.Parameter(FileParameter) is { } file && step.Parameter(Sha256Parameter) is { } sha256)
            reader.Sketch = reader.Sketch with { Distilled = new DistilledWeights(file, sha256) };
    }
}
