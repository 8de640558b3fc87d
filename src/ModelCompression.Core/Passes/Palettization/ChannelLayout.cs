namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// Where the channels of a row-major tensor lie: element i belongs to channel (i / <see cref="Stride"/>) mod
/// <see cref="Channels"/>, and channel c to group c / <see cref="GroupSize"/>.
/// </summary>
public sealed record ChannelLayout
{
    public ChannelLayout(IReadOnlyList<long> shape, int axis, int groupSize)
    {
        if (axis < 0 || axis >= shape.Count) throw new ArgumentOutOfRangeException(nameof(axis), axis, $"The tensor has rank {shape.Count}.");
        if (groupSize < 1) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "A channel group holds at least one channel.");
        Shape = shape.ToArray();
        Axis = axis;
        Channels = shape[axis];
        Stride = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        GroupSize = (int)Math.Min(groupSize, Math.Max(1, Channels));
        Groups = (int)((Channels + GroupSize - 1) / GroupSize);
    }

    /// <summary>One group holding every element.</summary>
    public static ChannelLayout Whole(IReadOnlyList<long> shape) => new([shape.Aggregate(1L, (a, d) => a * d)], 0, int.MaxValue);

    public long[] Shape { get; }

    public int Axis { get; }

    public long Channels { get; }

    /// <summary>Elements between consecutive channels (the product of the dimensions after the axis).</summary>
    public long Stride { get; }

    public int GroupSize { get; }

    public int Groups { get; }

    public int GroupOf(long element) => (int)((element / Stride % Channels) / GroupSize);

    /// <summary>The group of each element.</summary>
    public int[] GroupsOf(long elementCount)
    {
        var groups = new int[elementCount];
        for (var i = 0L; i < elementCount; i++) groups[i] = GroupOf(i);
        return groups;
    }
}
