using System.Diagnostics.CodeAnalysis;

namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// The small constants (divisors, shapes, offsets) that <see cref="ConstantProgram"/>s committed to one graph, by
/// content, so later programs in that graph read them instead of storing copies. One pool per graph: a constant lives in
/// the graph whose nodes read it, never in an enclosing one.
/// </summary>
internal sealed class ConstantPool
{
    private readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

    public bool TryGet(string content, [NotNullWhen(true)] out string? name) => _names.TryGetValue(content, out name);

    public void Add(string content, string name) => _names.TryAdd(content, name);
}
