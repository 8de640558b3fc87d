using System.Numerics.Tensors;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// Accumulates H = E[x xᵀ] of one layer's rows, per group. Rows wait in a block (at most <see cref="MaxBlockRows"/>);
/// a full block's products are summed in a small float scratch and then added to the running sums, so each partial
/// sum adds at most 256 products before it joins the total (a blocked sum: float precision without a double
/// matrix). Only the upper triangle is summed; <see cref="Finish"/> mirrors it.
/// <para>
/// Two layouts, chosen by the layer's shape so that every library call is long: few groups of long rows (Gemm,
/// MatMul, most Conv) sum row-wise, sums[g, i, j≥i] += x[g,i]·x[g, j..]; many groups of short rows (depthwise Conv,
/// 9 or 25 long) sum across groups, sums[i, j≥i, g..] += x[i, g..]⊙x[j, g..], and are put in group order at the end.
/// Both add the same products in the same order, so the layout does not change a bit of the result.
/// </para>
/// <para>
/// Deterministic: every element of H adds its products in row order, whatever the vector width (lanes hold
/// different elements, never parts of one sum; a·x + h is two roundings, never fused: TensorPrimitives.MultiplyAdd)
/// and whatever the thread count (threads own disjoint rows of the sums). Memory: Groups·Dimension² floats of sums
/// plus a block of rows of at most 1 MB (or 16 rows), a scratch per thread while a block is added (16 rows of one
/// group's H, or one row of H across groups), and, for a layer summed across groups, a second Groups·Dimension²
/// floats while <see cref="Finish"/> reorders it. Cost: about Rows·Groups·Dimension²/2 multiply-adds (row-wise, zeros
/// in the rows, e.g. ReLU outputs and padding, are skipped).
/// </para>
/// </summary>
internal sealed class MomentAccumulator
{
    /// <summary>The most rows a block holds: bounds how many products one partial sum adds.</summary>
    public const int MaxBlockRows = 256;

    private const int MinBlockRows = 16;
    private const int BlockFloats = 1 << 18; // 1 MB

    /// <summary>Rows of the sums one pass over the block updates (row-wise): their partial sums stay in cache while every block row passes.</summary>
    private const int ChunkRows = 16;

    private readonly double[] _rowSums; // [g, k]: Σ rows, for the mean
    private readonly float[] _sums;   // row-wise: [g, i, j]; across groups: [i, j, g]; upper triangle
    private readonly float[] _block;  // the pending rows; row-wise: [r, g, k]; across groups: [r, k, g]
    private readonly int _blockRows;
    private int _pending;

    public MomentAccumulator(int dimension, int groups)
    {
        Dimension = dimension;
        Groups = groups;
        AcrossGroups = 2L * groups > dimension;
        var rowFloats = checked(groups * dimension);
        _blockRows = Math.Clamp(BlockFloats / rowFloats, MinBlockRows, MaxBlockRows);
        _sums = new float[checked(rowFloats * dimension)];
        _rowSums = new double[rowFloats];
        _block = new float[checked(_blockRows * rowFloats)];
    }

    public int Dimension { get; }

    public int Groups { get; }

    /// <summary>Sums run across groups (many groups of short rows).</summary>
    public bool AcrossGroups { get; }

    /// <summary>Where element k of group g of a row goes in <see cref="NextRow"/>: g·GroupStride + k·ElementStride.</summary>
    public int GroupStride => AcrossGroups ? 1 : Dimension;

    /// <inheritdoc cref="GroupStride"/>
    public int ElementStride => AcrossGroups ? Groups : 1;

    /// <summary>The rows added so far.</summary>
    public long Rows { get; private set; }

    /// <summary>The bytes this accumulator holds: the sums and the row block.</summary>
    public long Bytes => 4L * (_sums.Length + _block.Length);

    /// <summary>The place for the next row (Groups × Dimension floats, laid out by <see cref="GroupStride"/> and <see cref="ElementStride"/>); it counts once <see cref="Commit"/> is called.</summary>
    public Span<float> NextRow() => _block.AsSpan(_pending * Groups * Dimension, Groups * Dimension);

    /// <summary>Adds the row written into <see cref="NextRow"/>.</summary>
    public void Commit()
    {
        var row = NextRow();
        for (var g = 0; g < Groups; g++)
            for (var k = 0; k < Dimension; k++)
                _rowSums[g * Dimension + k] += row[g * GroupStride + k * ElementStride];
        _pending++;
        Rows++;
        if (_pending == _blockRows) Flush();
    }

    /// <summary>H = sums / Rows, symmetric, in group order; null when no row was added. The accumulator is spent.</summary>
    public InputMoments? Finish()
    {
        Flush();
        if (Rows == 0) return null;
        var n = Dimension;
        var matrix = AcrossGroups ? new float[_sums.Length] : _sums;
        for (var g = 0; g < Groups; g++)
            for (var i = 0; i < n; i++)
                for (var j = i; j < n; j++)
                {
                    var sum = AcrossGroups ? _sums[(i * n + j) * Groups + g] : _sums[(g * n + i) * n + j];
                    matrix[(g * n + j) * n + i] = matrix[(g * n + i) * n + j] = (float)(sum / (double)Rows);
                }
        return new InputMoments(Dimension, Groups, Rows, matrix) { Mean = _rowSums.Select(s => (float)(s / Rows)).ToArray() };
    }

    private void Flush()
    {
        if (_pending == 0) return;
        var n = Dimension;
        var chunks = (n + ChunkRows - 1) / ChunkRows;
        var work = AcrossGroups ? n : Groups * chunks;
        var scratchFloats = AcrossGroups ? n * Groups : ChunkRows * n;
        void Add(int w, float[] scratch)
        {
            if (AcrossGroups) AddRowAcrossGroups(w, scratch);
            else AddChunk(w / chunks, w % chunks * ChunkRows, scratch);
        }
        // Each work item owns its rows of the sums: running them on several threads changes no sum's order.
        if ((long)_pending * Groups * n * n >= 1L << 22)
            Parallel.For(0, work, () => new float[scratchFloats], (w, _, scratch) => { Add(w, scratch); return scratch; }, _ => { });
        else
        {
            var scratch = new float[scratchFloats];
            for (var w = 0; w < work; w++) Add(w, scratch);
        }
        _pending = 0;
    }

    /// <summary>Row-wise: the block's products for rows i0 .. i0 + <see cref="ChunkRows"/> of group <paramref name="group"/>'s upper triangle.</summary>
    private void AddChunk(int group, int i0, float[] scratch)
    {
        var n = Dimension;
        var iEnd = Math.Min(i0 + ChunkRows, n);
        var partial = scratch.AsSpan(0, (iEnd - i0) * n);
        partial.Clear();
        var stride = Groups * n;
        for (var r = 0; r < _pending; r++)
        {
            var row = _block.AsSpan(r * stride + group * n, n);
            for (var i = i0; i < iEnd; i++)
            {
                var a = row[i];
                if (a == 0) continue;
                var sum = partial.Slice((i - i0) * n + i, n - i);
                var x = row[i..];
                if (x.Length >= ShortRow) TensorPrimitives.MultiplyAdd(x, a, sum, sum);
                else
                    for (var j = 0; j < x.Length; j++) sum[j] += a * x[j];
            }
        }
        var sums = _sums.AsSpan(group * n * n, n * n);
        for (var i = i0; i < iEnd; i++)
        {
            var total = sums.Slice(i * n + i, n - i);
            TensorPrimitives.Add(total, partial.Slice((i - i0) * n + i, n - i), total);
        }
    }

    /// <summary>Below this length a plain loop beats a library call.</summary>
    private const int ShortRow = 24;

    /// <summary>Across groups: the block's products for row i of every group's upper triangle, sums[i, j≥i, g..].</summary>
    private void AddRowAcrossGroups(int i, float[] scratch)
    {
        var (n, groups) = (Dimension, Groups);
        var partial = scratch.AsSpan(0, (n - i) * groups);
        partial.Clear();
        for (var r = 0; r < _pending; r++)
        {
            var row = _block.AsSpan(r * groups * n, groups * n);
            var a = row.Slice(i * groups, groups);
            for (var j = i; j < n; j++)
            {
                var sum = partial.Slice((j - i) * groups, groups);
                TensorPrimitives.MultiplyAdd(a, row.Slice(j * groups, groups), sum, sum);
            }
        }
        var total = _sums.AsSpan((i * n + i) * groups, (n - i) * groups);
        TensorPrimitives.Add(total, partial, total);
    }
}
