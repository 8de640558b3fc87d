using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.DataAware;

/// <summary>
/// A layer's weight tensor seen as rows [<see cref="Outputs"/>, <see cref="Inputs"/>]: the layout the data-aware
/// methods and <see cref="LayerStatistics.InputMoments"/> share. Conv W [M, C/group, k...] is already rows (K = C/group·Πk,
/// im2col's channel-major patch), in <see cref="Groups"/> groups of M/group rows each with its own H; Gemm's B with
/// transB is [N, K]; MatMul's and Gemm's plain B [K, N] are the transpose.
/// </summary>
public sealed record WeightRows(int Outputs, int Inputs, int Groups, bool Transposed)
{
    /// <summary>
    /// The rows view of input 1 of <paramref name="node"/> with <paramref name="dims"/>, when its output channels lie
    /// on <paramref name="channelAxis"/> as the passes quantize them; null for the layers H does not describe
    /// (ConvTranspose, recurrent, Gather, batched MatMul weights).
    /// </summary>
    public static WeightRows? Of(NodeProto node, IReadOnlyList<long> dims, int channelAxis)
    {
        if (dims.Any(d => d < 1 || d > int.MaxValue)) return null;
        switch (node.OpType)
        {
            case "Conv" when dims.Count >= 3 && channelAxis == 0:
                var groups = (int)node.GetInt("group", 1);
                var inputs = dims.Skip(1).Aggregate(1L, (a, d) => a * d);
                return groups >= 1 && dims[0] % groups == 0 && inputs <= int.MaxValue ? new WeightRows((int)dims[0], (int)inputs, groups, false) : null;
            case "Gemm" when dims.Count == 2:
                var transB = node.GetInt("transB", 0) == 1;
                if (channelAxis != (transB ? 0 : 1)) return null;
                return transB ? new WeightRows((int)dims[0], (int)dims[1], 1, false) : new WeightRows((int)dims[1], (int)dims[0], 1, true);
            case "MatMul" when dims.Count == 2 && channelAxis == 1:
                return new WeightRows((int)dims[1], (int)dims[0], 1, true);
            default:
                return null;
        }
    }

    public int RowsPerGroup => Outputs / Groups;

    /// <summary>Whether <paramref name="moments"/> describe this layer's input (same length, same groups).</summary>
    public bool Matches(LayerStatistics.InputMoments moments) =>
        moments.Dimension == Inputs && moments.Groups == Groups && moments.Matrix.Length == (long)Groups * Inputs * Inputs;

    /// <summary>The weights as rows [Outputs, Inputs], row-major.</summary>
    public float[] Rows(ReadOnlySpan<float> tensor) => Transposed ? MatrixLayout.Transposed(tensor, Inputs, Outputs) : tensor.ToArray();

    /// <summary>Rows [Outputs, Inputs] back in the tensor's own layout.</summary>
    public T[] Tensor<T>(ReadOnlySpan<T> rows) => Transposed ? MatrixLayout.Transposed(rows, Outputs, Inputs) : rows.ToArray();

    /// <summary>The input (column of the rows view) tensor element <paramref name="element"/> multiplies.</summary>
    public int InputOf(long element) => (int)(Transposed ? element / Outputs : element % Inputs);

    /// <summary>The tensor element at row <paramref name="row"/>, input <paramref name="input"/> of the rows view.</summary>
    public long TensorIndex(int row, int input) => Transposed ? (long)input * Outputs + row : (long)row * Inputs + input;

    /// <summary>The group (of H) tensor element <paramref name="element"/> belongs to.</summary>
    public int GroupOf(long element) => Groups == 1 ? 0 : (int)(element / Inputs / RowsPerGroup);
}
