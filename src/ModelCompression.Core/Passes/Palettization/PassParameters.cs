using System.Globalization;

namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// The plan-step parameters of <see cref="WeightPalettization"/> ("palettize") and
/// <see cref="Sparsity.MagnitudePruning"/> ("prune-weights"), as plans and locks store them: per-node values in one
/// parameter holding a map sorted by node name (<see cref="ParameterMap"/>), "a=4;b=3".
/// </summary>
public static class PassParameters
{
    /// <summary>palettize: code width per node, 1–8 ("fc1=4;fc2=3"). prune-weights: how each node's non-zeros are stored, 32, 16 or 1–8 (absent: 32).</summary>
    public const string Bits = "bits";
    /// <summary>"tensor" (default) or "channel-group".</summary>
    public const string Granularity = "granularity";
    /// <summary>Output channels per palette with "channel-group" (default <see cref="WeightPalettization.DefaultChannelGroupSize"/>).</summary>
    public const string GroupSize = "group";
    /// <summary>palettize: "float32" (default) or "float16" palettes.</summary>
    public const string Table = "table";

    /// <summary>palettize: <see cref="RefittedEntries"/> refits Hessian-weighted palettes' entries to their codes (absent: the weighted k-means, as plans before it).</summary>
    public const string Entries = "entries";
    public const string RefittedEntries = "refitted";
    /// <summary>prune-weights, per layer: the fraction of each node's weights to zero ("fc1=0.75;fc2=0.5").</summary>
    public const string Sparsity = "sparsity";
    /// <summary>prune-weights, global: one fraction over all <see cref="Nodes"/> ("0.9").</summary>
    public const string GlobalSparsity = "global-sparsity";
    /// <summary>prune-weights with <see cref="GlobalSparsity"/>: the nodes, ';'-separated and sorted.</summary>
    public const string Nodes = "nodes";

    internal static PaletteGranularity ParseGranularity(string? text) => text switch
    {
        null or "tensor" => PaletteGranularity.PerTensor,
        "channel-group" => PaletteGranularity.PerChannelGroup,
        _ => throw new FormatException($"Granularity '{text}' is neither 'tensor' nor 'channel-group'."),
    };

    internal static string Format(PaletteGranularity granularity) => granularity == PaletteGranularity.PerTensor ? "tensor" : "channel-group";

    internal static int ParseInt(string? text, int fallback) =>
        text is null ? fallback : int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
}
