using System.Numerics;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// Accumulates H = E[x xᵀ] of one layer's rows, per group. Rows wait in a block of <see cref="BlockRows"/>; a full
/// block's XᵀX is summed tile by tile in a small float tile and then added to the running sums, so each sum adds
/// at most 256 products before it joins the total (a blocked sum: float precision without a double matrix).
/// Only the upper triangle is summed; <see cref="Finish"/> mirrors it.
/// <para>
/// Deterministic: every element of H adds its products in row order, whatever the vector width (lanes hold
/// different elements, never parts of one sum; a·x + h is two roundings, never fused) and whatever the thread
/// count (threads own disjoint tiles). Memory: Groups·Dimension² floats of sums plus a block of
/// <see cref="BlockRows"/>·Groups·Dimension floats. Cost: about Rows·Groups·Dimension²/2 multiply-adds, fewer for zeros
/// in the rows (ReLU outputs, padding), which are skipped.
/// </para>
/// </summary>
internal sealed class MomentAccumulator
{
    /// <summary>Rows per block: bounds both how many products a partial sum holds and the row buffer.</summary>
    public const int BlockRows = 256;

    private const int Tile = 64;

    private readonly float[] _sums;
    private readonly float[] _block;
    private int _pending;

    public MomentAccumulator(int dimension, int groups)
    {
        Dimension = dimension;
        Groups = groups;
        _sums = new float[checked(groups * dimension * dimension)];
        _block = new float[checked(BlockRows * groups * dimension)];
    }

    public int Dimension { get; }

    public int Groups { get; }

    /// <summary>The rows added so far.</summary>
    public long Rows { get; private set; }

    /// <summary>The bytes this accumulator holds: the sums and the row block.</summary>
    public long Bytes => 4L * (_sums.Length + _block.Length);

    /// <summary>The bytes the accumulator of a layer holds while collecting (<see cref="Bytes"/>).</summary>
    public static long BytesFor(int dimension, int groups) => 4L * groups * dimension * ((long)dimension + BlockRows);

    /// <summary>The place for the next row (Groups × Dimension floats, group-major); it counts once <see cref="Commit"/> is called.</summary>
    public Span<float> NextRow() => _block.AsSpan(_pending * Groups * Dimension, Groups * Dimension);

    /// <summary>Adds the row written into <see cref="NextRow"/>.</summary>
    public void Commit()
    {
        _pending++;
        Rows++;
        if (_pending == BlockRows) Flush();
    }

    /// <summary>H = sums / Rows, symmetric; null when no row was added. The accumulator is spent.</summary>
    public InputMoments? Finish()
    {
        Flush();
        if (Rows == 0) return null;
        var n = Dimension;
        for (var g = 0; g < Groups; g++)
        {
            var matrix = _sums.AsSpan(g * n * n, n * n);
            for (var i = 0; i < n; i++)
            {
                matrix[i * n + i] = (float)(matrix[i * n + i] / (double)Rows);
                for (var j = i + 1; j < n; j++)
                    matrix[j * n + i] = matrix[i * n + j] = (float)(matrix[i * n + j] / (double)Rows);
            }
        }
        return new InputMoments(Dimension, Groups, Rows, _sums);
    }

    private void Flush()
    {
        if (_pending == 0) return;
        var tiles = (Dimension + Tile - 1) / Tile;
        var pairs = new List<(int Group, int I, int J)>();
        for (var g = 0; g < Groups; g++)
            for (var ti = 0; ti < tiles; ti++)
                for (var tj = ti; tj < tiles; tj++)
                    pairs.Add((g, ti * Tile, tj * Tile));
        // Tiles are disjoint parts of the sums: running them on several threads changes no sum's order.
        if ((long)_pending * Groups * Dimension * Dimension >= 1L << 22)
            Parallel.ForEach(pairs, () => new float[Tile * Tile], (pair, _, tile) => { AddTile(pair.Group, pair.I, pair.J, tile); return tile; }, _ => { });
        else
        {
            var tile = new float[Tile * Tile];
            foreach (var pair in pairs) AddTile(pair.Group, pair.I, pair.J, tile);
        }
        _pending = 0;
    }

    /// <summary>Sums the block's products for rows i0.. and columns j0.. of group <paramref name="group"/> (upper triangle only) into its sums.</summary>
    private void AddTile(int group, int i0, int j0, float[] tile)
    {
        var n = Dimension;
        var iEnd = Math.Min(i0 + Tile, n);
        var jEnd = Math.Min(j0 + Tile, n);
        var stride = Groups * n;
        Array.Clear(tile);
        for (var r = 0; r < _pending; r++)
        {
            var row = _block.AsSpan(r * stride + group * n, n);
            for (var i = i0; i < iEnd; i++)
            {
                var a = row[i];
                if (a == 0) continue;
                var from = Math.Max(j0, i);
                if (from < jEnd) AddScaled(tile.AsSpan((i - i0) * Tile + (from - j0), jEnd - from), row[from..jEnd], a);
            }
        }
        var sums = _sums.AsSpan(group * n * n, n * n);
        for (var i = i0; i < iEnd; i++)
        {
            var from = Math.Max(j0, i);
            if (from < jEnd) Add(sums.Slice(i * n + from, jEnd - from), tile.AsSpan((i - i0) * Tile + (from - j0), jEnd - from));
        }
    }

    /// <summary>sum += a·x element-wise; a product and a sum rounded separately in every lane and in the tail alike.</summary>
    private static void AddScaled(Span<float> sum, ReadOnlySpan<float> x, float a)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var scale = new Vector<float>(a);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(sum[i..]) + scale * new Vector<float>(x[i..])).CopyTo(sum[i..]);
        }
        for (; i < x.Length; i++) sum[i] += a * x[i];
    }

    private static void Add(Span<float> sum, ReadOnlySpan<float> x)
    {
        for (var i = 0; i < x.Length; i++) sum[i] += x[i];
    }
}
