using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning.Registry;

namespace ModelCompression.Core.Planning;

/// <summary>The techniques the search may use (the <c>Techniques</c> metadata).</summary>
[Flags]
public enum Technique
{
    None = 0,
    Fusion = 1 << 0,
    Int8 = 1 << 1,
    Int4 = 1 << 2,
    Fp16 = 1 << 3,
    Prune = 1 << 4,
    LowRank = 1 << 5,
    Palettize = 1 << 6,
    Distill = 1 << 7,
    All = Fusion | Int8 | Int4 | Fp16 | Prune | LowRank | Palettize | Distill,
}

public static class Techniques
{
    /// <summary>The techniques that change what the model computes (all but fusion): only they make a budget to judge.</summary>
    public const Technique Lossy = Technique.All & ~Technique.Fusion;

    /// <summary>Parses "fusion;int8;int4" (also comma separated); empty means all.</summary>
    public static Technique Parse(string? value, string? file)
    {
        if (string.IsNullOrWhiteSpace(value)) return Technique.All;
        var result = Technique.None;
        foreach (var part in value.Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            result |= TechniqueRegistry.FlagOf(part) ?? throw new CompressionException(DiagnosticCode.InvalidSetting, file,
                $"Techniques contains \"{part}\", which is not a technique: use {string.Join(", ", TechniqueRegistry.Names.SkipLast(1))} or {TechniqueRegistry.Names[^1]}, separated by ';'.");
        return result;
    }
}
