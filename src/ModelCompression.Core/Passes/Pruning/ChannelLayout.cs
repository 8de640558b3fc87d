namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// Which channel each position along one axis of a value carries: <see cref="Ids"/>[p] is the channel id at position
/// p of <see cref="Axis"/>, or <see cref="Untracked"/> for positions no producer owns (a graph input concatenated in,
/// a constant), which are always kept. A Concat output lists its inputs' ids one after the other; a flattened
/// feature axis repeats each channel's id over the H·W positions it became.
/// </summary>
internal sealed record ChannelLayout(int Axis, int[] Ids)
{
    public const int Untracked = -1;

    public int Length => Ids.Length;

    public IEnumerable<int> Channels => Ids.Where(id => id != Untracked);

    public ChannelLayout OnAxis(int axis) => this with { Axis = axis };
}

/// <summary>
/// The channel ids of every producer, merged into classes (union-find) wherever the graph couples two positions:
/// coupled channels are one class and are removed together. Besides, the ids that meet something unsafe are
/// recorded with the reason, which refuses their whole group.
/// </summary>
internal sealed class ChannelClasses
{
    private readonly List<int> _parent = [];
    private readonly List<(int Id, string Reason)> _fixed = [];

    public int Count => _parent.Count;

    public IReadOnlyList<(int Id, string Reason)> Fixed => _fixed;

    /// <summary>Allocates <paramref name="count"/> fresh ids, each its own class; returns the first.</summary>
    public int Allocate(int count)
    {
        var first = _parent.Count;
        for (var i = 0; i < count; i++) _parent.Add(first + i);
        return first;
    }

    public int Find(int id)
    {
        var root = id;
        while (_parent[root] != root) root = _parent[root];
        while (_parent[id] != root) (id, _parent[id]) = (_parent[id], root);
        return root;
    }

    /// <summary>Merges two classes; the smaller root wins, so a class is named after its earliest channel.</summary>
    public void Union(int a, int b)
    {
        var (ra, rb) = (Find(a), Find(b));
        if (ra == rb) return;
        if (ra < rb) _parent[rb] = ra;
        else _parent[ra] = rb;
    }

    public void Fix(int id, string reason) => _fixed.Add((id, reason));

    /// <summary>Every id of the classes whose roots are <paramref name="roots"/>.</summary>
    public HashSet<int> IdsOf(IReadOnlySet<int> roots) => Enumerable.Range(0, Count).Where(id => roots.Contains(Find(id))).ToHashSet();
}
