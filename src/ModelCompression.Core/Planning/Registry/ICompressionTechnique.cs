using ModelCompression.Core.Passes;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// Where a technique's steps go in a plan: structure before storage (every later step stores fewer, or factored, weights);
/// <see cref="Distill"/> between them: trained weights replace the float ones of the pruned and factored layers (sparsity
/// stores masked weights, so it follows); <see cref="Biases"/> after bias correction and folded factors, so that it stores
/// the biases in their final form.
/// </summary>
public enum PlanStage { PruneChannels, Factor, Distill, Sparsify, QuantizeActivations, Int4, Palettize, QuantizeWeights, Fp16, Biases }

/// <summary>Makes a plan step's pass from its parameters.</summary>
public delegate IGraphPass PassFactory(PassStep step, PassContext context);

/// <summary>
/// One compression technique, everything the planner needs of it in one place: its word in the <c>Techniques</c>
/// metadata and its flag, the options it offers each layer, how a sketch becomes its plan steps and back, its passes,
/// and, for a storage format, the weight it leaves (what the planner predicts from). Registered in <see cref="TechniqueRegistry"/>.
/// </summary>
public interface ICompressionTechnique
{
    /// <summary>The word in the <c>Techniques</c> metadata, e.g. "int4".</summary>
    string Name { get; }

    Technique Flag { get; }

    /// <summary>Its passes, by plan name.</summary>
    IReadOnlyDictionary<string, PassFactory> Passes { get; }

    /// <summary>Adds the options it offers (when its flag is among the techniques allowed).</summary>
    void Offer(LayerOptions options) { }

    /// <summary>Its steps for <paramref name="sketch"/>, each with its stage.</summary>
    IEnumerable<(PlanStage Stage, PassStep Step)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space) => [];

    /// <summary>Reads one of its steps back into the sketch being rebuilt (other techniques' steps are ignored).</summary>
    void Read(PassStep step, SketchReader reader) { }

    /// <summary>
    /// A storage format's technique: <paramref name="values"/> (channels along <paramref name="axis"/>) as the format stores
    /// them; null when <paramref name="setting"/>'s format is not this technique's.
    /// </summary>
    float[]? Store(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs) => null;
}
