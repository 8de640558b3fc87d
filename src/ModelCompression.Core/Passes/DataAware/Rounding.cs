namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// How a lossy weight step picks the stored values: each weight on its own (nearest grid point, plain k-means, plain
/// SVD), or with the layer's input second moment H = E[x xᵀ], so that the error of the layer's output, not of its
/// weights, is minimised (GPTQ, Hessian-weighted k-means, whitened SVD).
/// </summary>
public enum Rounding
{
    /// <summary>Data-free: what the passes always did.</summary>
    Nearest,
    /// <summary>Data-aware, with the layer's <see cref="LayerStatistics.InputMoments"/>; a layer without moments falls back to <see cref="Nearest"/>.</summary>
    Hessian,
}

/// <summary>The <c>rounding</c> plan-step parameter: "nearest" (the default, left out of plans) or "hessian".</summary>
public static class RoundingParameter
{
    public const string Name = "rounding";

    /// <exception cref="FormatException">Neither "nearest" nor "hessian".</exception>
    public static Rounding Parse(string? text) => text switch
    {
        null or "nearest" => Rounding.Nearest,
        "hessian" => Rounding.Hessian,
        _ => throw new FormatException($"Rounding '{text}' is neither 'nearest' nor 'hessian'."),
    };

    public static string Format(Rounding rounding) => rounding == Rounding.Hessian ? "hessian" : "nearest";

    /// <summary>The parameter as a plan step stores it: nothing for <see cref="Rounding.Nearest"/>, so plans written before it existed stay the same.</summary>
    public static IEnumerable<KeyValuePair<string, string>> Of(Rounding rounding) =>
        rounding == Rounding.Nearest ? [] : [KeyValuePair.Create(Name, Format(rounding))];
}
