using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// The input moments of the weights a pass rounds, from the collected statistics of the model before any lossy step.
/// The factors of a low-rank layer <c>n</c> are not in them, so they are derived: the first factor reads n's input
/// (n's H); the second reads x·A, A the first factor's weight, so its H is Aᵀ·H·A
/// (<see cref="WhitenedLowRank.SecondFactorMoments"/>). Ask before the pass rewrites anything: the second factor's
/// moments read the first factor's float weight.
/// </summary>
public sealed class LayerMoments(ILayerStatistics? statistics, ModelView view)
{
    private static readonly string FirstSuffix = LowRankFactorization.FirstFactorName("");
    private static readonly string SecondSuffix = LowRankFactorization.SecondFactorName("");

    /// <summary>The moments of <paramref name="node"/>'s weight input, collected or derived; null when unknown.</summary>
    public InputMoments? For(string node)
    {
        if (statistics is null) return null;
        if (statistics.For(node) is { } own) return own;
        if (node.EndsWith(FirstSuffix, StringComparison.Ordinal)) return statistics.For(node[..^FirstSuffix.Length]);
        if (!node.EndsWith(SecondSuffix, StringComparison.Ordinal)) return null;
        var layer = node[..^SecondSuffix.Length];
        if (statistics.For(layer) is not { Groups: 1 } moments || FirstFactor(LowRankFactorization.FirstFactorName(layer)) is not { } first) return null;
        var (tensor, layout) = first;
        if (layout.Inputs != moments.Dimension) return null;
        // The rows view is [rank, m]; the first factor as x·A is its transpose, A [m, rank].
        var a = new WeightRows(layout.Inputs, layout.Outputs, 1, Transposed: true).Rows(layout.Rows(tensor));
        return WhitenedLowRank.SecondFactorMoments(moments, a, layout.Outputs);
    }

    /// <summary>
    /// The H of each group for a weight with <paramref name="layout"/> read by <paramref name="readers"/>: when several
    /// nodes read it, their moments pooled over all their rows (the error counts at every reader). Null when no reader
    /// has moments that fit the layout: the pass then rounds to nearest.
    /// </summary>
    public IReadOnlyList<InputHessian>? Hessians(WeightRows? layout, IEnumerable<string> readers)
    {
        if (layout is null) return null;
        var found = readers.Select(For).OfType<InputMoments>().Where(layout.Matches).ToList();
        if (found.Count == 0 || found.Sum(m => m.Rows) <= 0) return null;
        if (found is [var single]) return Enumerable.Range(0, single.Groups).Select(g => InputHessian.Of(single, g)).ToList();
        var size = layout.Inputs * layout.Inputs;
        var total = found.Sum(m => (double)m.Rows);
        return Enumerable.Range(0, layout.Groups).Select(g =>
        {
            var pooled = new float[size];
            foreach (var moments in found)
            {
                var share = moments.Rows / total;
                var matrix = moments.Of(g);
                for (var i = 0; i < size; i++) pooled[i] += (float)(share * matrix[i]);
            }
            return InputHessian.Of(pooled, layout.Inputs);
        }).ToList();
    }

    /// <summary>
    /// The rows layout and H of a weight tensor from its reads (one tensor, several nodes perhaps): null when a read is
    /// not the node's own weight input as H describes it (read through layout operators, another op's slot), when the
    /// reads disagree on the layout, or when no reader has moments.
    /// </summary>
    public RoundingInput? For(IEnumerable<QuantizableWeight> reads)
    {
        var list = reads.ToList();
        var layouts = list.Select(r => r.IsDirect && r.InputIndex == 1 ? WeightRows.Of(r.Node, r.Initializer.Dims, r.ChannelAxis) : null).Distinct().ToList();
        if (layouts is not [{ } layout]) return null;
        return Hessians(layout, list.Select(r => r.Node.Name).Distinct()) is { } hessians ? new RoundingInput(layout, hessians) : null;
    }

    // The first factor's float weight in its tensor layout and its rows view, when it is still a constant.
    private (float[] Values, WeightRows Layout)? FirstFactor(string name)
    {
        foreach (var graph in view.Graphs())
            foreach (var node in graph.Nodes)
            {
                if (node.Name != name || node.Input.Count < 2) continue;
                if (!graph.TryGetConstant(node.Input[1], out var weight) || weight.ElementType != DataType.Float) return null;
                var dims = weight.Shape.ToArray();
                var axis = node.OpType == "Conv" || (node.OpType == "Gemm" && node.GetInt("transB", 0) == 1) ? 0 : dims.Length - 1;
                return WeightRows.Of(node, dims, axis) is { Groups: 1 } layout ? (weight.ToFloats(), layout) : null;
            }
        return null;
    }
}

/// <summary>What a data-aware method needs of a weight: its rows view, and one H per group of rows.</summary>
public sealed record RoundingInput(WeightRows Layout, IReadOnlyList<InputHessian> Hessians);
