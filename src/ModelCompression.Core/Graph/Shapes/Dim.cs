namespace ModelCompression.Core.Graph.Shapes;

/// <summary>One dimension of a tensor shape: a known size, a symbol (a named size such as "N"), or unknown.</summary>
public readonly record struct Dim(long? Value, string? Symbol)
{
    public static Dim Unknown => default;

    public static Dim Of(long value) => new(value, null);

    public static Dim Named(string symbol) => new(null, symbol);

    public bool IsKnown => Value.HasValue;

    /// <summary>
    /// The dimension two broadcast dimensions give (numpy rules). Where the sizes cannot be told apart
    /// without running the model (an unknown against 1, two different symbols) the result is unknown.
    /// </summary>
    public static Dim Broadcast(Dim a, Dim b)
    {
        if (a.Value == 1) return b;
        if (b.Value == 1) return a;
        if (a.IsKnown && b.IsKnown) return a.Value == b.Value ? a : Unknown;
        // A known size other than 1 wins: the other side must equal it or be 1.
        if (a.IsKnown) return a;
        if (b.IsKnown) return b;
        return a.Symbol is not null && a.Symbol == b.Symbol ? a : Unknown;
    }

    /// <summary>Combines two descriptions of the same dimension, keeping whatever is known.</summary>
    public static Dim Merge(Dim preferred, Dim other) =>
        preferred.IsKnown ? preferred : other.IsKnown ? other : preferred.Symbol is not null ? preferred : other;

    /// <summary>The dimension two alternative values (e.g. If branches) share: kept only where they agree.</summary>
    public static Dim Common(Dim a, Dim b) => a == b ? a : Unknown;

    public override string ToString() => Value?.ToString() ?? Symbol ?? "?";
}
