namespace ModelCompression.Core.Planning.Registry;

/// <summary>
/// Every technique, in the order they make their offers (the order of a layer's options of equal bits). A new technique
/// is one class implementing <see cref="ICompressionTechnique"/> and one line here.
/// </summary>
public static class TechniqueRegistry
{
    public static IReadOnlyList<ICompressionTechnique> All { get; } =
    [
        new FusionTechnique(),
        new Fp16Technique(),
        new Int8Technique(),
        new Int4Technique(),
        new PaletteTechnique(),
        new LowRankTechnique(),
        new DataAwareRoundingTechnique(),
        new SparsityTechnique(),
        new ChannelPruningTechnique(),
        new DistillTechnique(),
    ];

    /// <summary>The <c>Techniques</c> words, each once, in registry order.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Where(t => t.Flag != Technique.None).Select(t => t.Name).Distinct().ToList();

    /// <summary>The flag of a <c>Techniques</c> word (case-insensitive); null for an unknown one.</summary>
    public static Technique? FlagOf(string name) =>
        All.FirstOrDefault(t => t.Flag != Technique.None && string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase))?.Flag;

    /// <summary>Every technique's passes, by plan name.</summary>
    public static IEnumerable<KeyValuePair<string, PassFactory>> Passes => All.SelectMany(t => t.Passes);
}
