namespace ModelCompression.Core.Passes.Pruning;

/// <summary>How a channel's importance is scored from the weights it owns (lowest scores are pruned first).</summary>
public enum ImportanceCriterion
{
    /// <summary>Sum of absolute weights (Li et al., "Pruning Filters for Efficient ConvNets").</summary>
    L1,

    /// <summary>Euclidean norm of the weights.</summary>
    L2,

    /// <summary>
    /// Distance to the other channels (He et al., FPGM): a channel close to the geometric median of its layer is
    /// the most replaceable by the others, so the lowest summed distance is pruned first.
    /// </summary>
    GeometricMedian,
}
