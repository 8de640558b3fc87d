using System.Globalization;

namespace ModelCompression.Core.Passes;

/// <summary>
/// How plans and locks store per-node (or per-group) parameters of a pass: one parameter holding a map
/// sorted by name, "a=4;b=3", written with the invariant culture so the text is deterministic.
/// </summary>
public static class ParameterMap
{
    /// <summary>"a=4;b=3" → {a: "4", b: "3"}. A node name may contain '=' (the last one separates the value), not ';'.</summary>
    public static IReadOnlyDictionary<string, string> Parse(string text)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var separator = entry.LastIndexOf('=');
            if (separator <= 0 || separator == entry.Length - 1) throw new FormatException($"'{entry}' is not of the form node=value.");
            if (!map.TryAdd(entry[..separator], entry[(separator + 1)..])) throw new FormatException($"Node '{entry[..separator]}' appears twice.");
        }
        return map;
    }

    /// <summary>{b: 3, a: 4} → "a=4;b=3" (sorted by node name, invariant culture).</summary>
    public static string Format<T>(IEnumerable<KeyValuePair<string, T>> map) where T : IFormattable =>
        string.Join(";", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value.ToString(null, CultureInfo.InvariantCulture)}"));

    public static IReadOnlyDictionary<string, int> ParseInts(string text) =>
        Parse(text).ToDictionary(p => p.Key, p => int.Parse(p.Value, NumberStyles.Integer, CultureInfo.InvariantCulture), StringComparer.Ordinal);

    public static IReadOnlyDictionary<string, double> ParseFractions(string text) =>
        Parse(text).ToDictionary(p => p.Key, p => double.Parse(p.Value, NumberStyles.Float, CultureInfo.InvariantCulture), StringComparer.Ordinal);

}
