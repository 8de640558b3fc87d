using ModelCompression.Core.Passes.Lossless;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>fusion: the lossless rewrites every plan starts with (operator fusion, folding, dead code); they offer no per-layer options.</summary>
public sealed class FusionTechnique : ICompressionTechnique
{
    public string Name => "fusion";

    public Technique Flag => Technique.Fusion;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.Lossless] = (_, _) => new LosslessPipeline(),
    };
}
