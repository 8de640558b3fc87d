using System.Collections.Immutable;

namespace ModelCompression.Core.Planning;

/// <summary>
/// One step of a plan: a pass by its stable name and its parameters (e.g. which nodes). Parameters
/// are kept sorted so the text form, equality and hashes never depend on insertion order.
/// </summary>
public sealed class PassStep : IEquatable<PassStep>
{
    public PassStep(string pass, IEnumerable<KeyValuePair<string, string>>? parameters = null)
    {
        Pass = pass;
        Parameters = (parameters ?? []).ToImmutableSortedDictionary(StringComparer.Ordinal);
    }

    public string Pass { get; }

    public ImmutableSortedDictionary<string, string> Parameters { get; }

    public string? Parameter(string name) => Parameters.GetValueOrDefault(name);

    public override string ToString() =>
        Parameters.Count == 0 ? Pass : $"{Pass}({string.Join(", ", Parameters.Select(p => $"{p.Key}={p.Value}"))})";

    public bool Equals(PassStep? other) => other is not null && ToString() == other.ToString();

    public override bool Equals(object? obj) => Equals(obj as PassStep);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}

/// <summary>
/// A compression plan: the passes to apply to the source model, in order. A plan is a value: two
/// equal plans applied to the same model give byte-identical models, which is what the lock records.
/// </summary>
public sealed class Plan : IEquatable<Plan>
{
    public Plan(IEnumerable<PassStep> steps) => Steps = steps.ToImmutableArray();

    public static Plan Empty { get; } = new([]);

    public ImmutableArray<PassStep> Steps { get; }

    public Plan Then(PassStep step) => new(Steps.Add(step));

    public override string ToString() => Steps.IsEmpty ? "(unchanged)" : string.Join(" → ", Steps);

    public bool Equals(Plan? other) => other is not null && ToString() == other.ToString();

    public override bool Equals(object? obj) => Equals(obj as Plan);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());
}
