namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// Values stored as n-bit codes into palettes of 2ⁿ entries, one palette per group: value i is
/// <c>Table[group(i) · 2ⁿ + Codes[i]]</c>. Each group's palette is the k-means optimum (<see cref="KMeans1D"/>) of its
/// values, padded to 2ⁿ entries; each code picks the nearest entry, so the error is as small as the palette allows.
/// </summary>
public sealed class PalettizedValues
{
    public const int MinBits = 1;
    public const int MaxBits = 8;

    private readonly int[] _groupOf;

    private PalettizedValues(int bits, int groups, float[] table, int[] codes, int[] groupOf)
    {
        Bits = bits;
        Groups = groups;
        Table = table;
        Codes = codes;
        _groupOf = groupOf;
    }

    public int Bits { get; }

    /// <summary>Entries per palette: 2^<see cref="Bits"/>.</summary>
    public int PaletteSize => 1 << Bits;

    public int Groups { get; }

    /// <summary><see cref="Groups"/> palettes of <see cref="PaletteSize"/> entries, one after the other (float16-exact with <see cref="PaletteTable.Float16"/>).</summary>
    public float[] Table { get; }

    /// <summary>Each value's index into its group's palette.</summary>
    public int[] Codes { get; }

    /// <summary>
    /// Clusters <paramref name="values"/>, those of each group (<paramref name="groupOf"/>[i] in [0, <paramref name="groups"/>))
    /// into one palette.
    /// </summary>
    /// <param name="magnitudeWeighted">Fit the palettes weighting each value by its magnitude (see <see cref="KMeans1D"/>); the passes do not.</param>
    public static PalettizedValues Fit(ReadOnlySpan<float> values, int bits, int groups, ReadOnlySpan<int> groupOf,
        PaletteTable table = PaletteTable.Float32, bool magnitudeWeighted = false) =>
        Fit(values, null, bits, groups, groupOf, table, magnitudeWeighted);

    /// <summary>
    /// As <see cref="Fit(ReadOnlySpan{float}, int, int, ReadOnlySpan{int}, PaletteTable, bool)"/>, each palette minimising
    /// Σ importanceᵢ·(wᵢ − c(wᵢ))² (<see cref="KMeans1D.Fit(ReadOnlySpan{float}, ReadOnlySpan{double}, int)"/>); each code
    /// still picks the nearest entry, which is optimal for any positive importance of its value.
    /// </summary>
    /// <param name="importance">One positive weight per value.</param>
    public static PalettizedValues FitWeighted(ReadOnlySpan<float> values, ReadOnlySpan<double> importance, int bits, int groups,
        ReadOnlySpan<int> groupOf, PaletteTable table = PaletteTable.Float32)
    {
        if (importance.Length != values.Length) throw new ArgumentException("One importance per value is needed.", nameof(importance));
        return Fit(values, importance.ToArray(), bits, groups, groupOf, table, magnitudeWeighted: false);
    }

    private static PalettizedValues Fit(ReadOnlySpan<float> values, double[]? importance, int bits, int groups, ReadOnlySpan<int> groupOf,
        PaletteTable table, bool magnitudeWeighted)
    {
        if (bits is < MinBits or > MaxBits) throw new ArgumentOutOfRangeException(nameof(bits), bits, $"Palettes use {MinBits} to {MaxBits} bits.");
        if (groupOf.Length != values.Length) throw new ArgumentException("One group per value is needed.", nameof(groupOf));
        var size = 1 << bits;
        var members = new List<float>[groups];
        var weights = new List<double>[groups];
        for (var g = 0; g < groups; g++) (members[g], weights[g]) = ([], []);
        for (var i = 0; i < values.Length; i++)
        {
            members[groupOf[i]].Add(values[i]);
            if (importance is not null) weights[groupOf[i]].Add(importance[i]);
        }

        var tableValues = new float[groups * size];
        var palettes = new float[groups][];
        for (var g = 0; g < groups; g++)
        {
            var centroids = importance is null
                ? KMeans1D.Fit(members[g].ToArray(), size, magnitudeWeighted)
                : KMeans1D.Fit(members[g].ToArray(), weights[g].ToArray(), size);
            if (table == PaletteTable.Float16) centroids = centroids.Select(c => (float)(Half)c).Distinct().Order().ToArray();
            if (centroids.Length == 0) centroids = [0f]; // an empty group: no value reads its palette
            palettes[g] = centroids;
            for (var k = 0; k < size; k++) tableValues[g * size + k] = centroids[Math.Min(k, centroids.Length - 1)];
        }
        var codes = new int[values.Length];
        for (var i = 0; i < values.Length; i++) codes[i] = Nearest(palettes[groupOf[i]], values[i]);
        return new PalettizedValues(bits, groups, tableValues, codes, groupOf.ToArray());
    }

    /// <summary>The same palettes with other codes (e.g. chosen for the layer's output rather than each value).</summary>
    internal PalettizedValues WithCodes(int[] codes)
    {
        if (codes.Length != Codes.Length) throw new ArgumentException($"Expected {Codes.Length} codes, got {codes.Length}.", nameof(codes));
        if (codes.Any(c => c < 0 || c >= PaletteSize)) throw new ArgumentOutOfRangeException(nameof(codes), "A code is outside its palette.");
        return new PalettizedValues(Bits, Groups, Table, codes, _groupOf);
    }

    /// <summary>The same codes with other palettes (e.g. entries refitted to the codes).</summary>
    internal PalettizedValues WithTable(float[] table)
    {
        if (table.Length != Table.Length) throw new ArgumentException($"Expected {Table.Length} palette entries, got {table.Length}.", nameof(table));
        return new PalettizedValues(Bits, Groups, table, Codes, _groupOf);
    }

    /// <summary>One palette for all values.</summary>
    public static PalettizedValues Fit(ReadOnlySpan<float> values, int bits, PaletteTable table = PaletteTable.Float32, bool magnitudeWeighted = false) =>
        Fit(values, bits, 1, new int[values.Length], table, magnitudeWeighted);

    /// <summary>All codes and palette entries zero: what a real encoding of that size would store, for weighing its bytes.</summary>
    internal static PalettizedValues Placeholder(int count, int bits, int groups) =>
        new(bits, groups, new float[groups << bits], new int[count], new int[count]);

    /// <summary>The bytes of the codes and palettes alone.</summary>
    public static long PayloadBytes(long count, int bits, int groups, PaletteTable table = PaletteTable.Float32) =>
        BitSlices.Bytes(count, bits) + TableBytes(groups, bits, table);

    /// <summary>The bytes of <paramref name="groups"/> palettes of 2^<paramref name="bits"/> entries.</summary>
    public static long TableBytes(int groups, int bits, PaletteTable table = PaletteTable.Float32) =>
        ((long)groups << bits) * (table == PaletteTable.Float32 ? 4 : 2);

    /// <summary>The values the codes stand for (what the model computes at load).</summary>
    public float[] Decode()
    {
        var values = new float[Codes.Length];
        for (var i = 0; i < values.Length; i++) values[i] = Table[_groupOf[i] * PaletteSize + Codes[i]];
        return values;
    }

    /// <summary>The index of the centroid nearest to <paramref name="value"/> (the lower one on a tie).</summary>
    public static int Nearest(float[] sortedCentroids, float value)
    {
        var index = Array.BinarySearch(sortedCentroids, value);
        if (index >= 0) return index;
        var above = ~index;
        if (above == 0) return 0;
        if (above == sortedCentroids.Length) return above - 1;
        return value - sortedCentroids[above - 1] <= sortedCentroids[above] - value ? above - 1 : above;
    }
}
