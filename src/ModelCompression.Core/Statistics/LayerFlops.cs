using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Statistics;

/// <summary>
/// Floating-point operations of one node for one run, counted as multiply-adds × 2 from the shapes of its operands:
/// convolutions (Conv, ConvTranspose, ConvInteger, QLinearConv), matrix products (Gemm, MatMul, MatMulInteger,
/// QLinearMatMul, and ONNX Runtime's MatMulNBits, MatMulIntegerToFloat, DynamicQuantizeMatMul) and the recurrent
/// layers (LSTM, GRU, RNN: the gate products of every step). Everything else (bias additions, activations, pooling,
/// normalisation, element-wise arithmetic, the recurrent gates' element-wise work) costs a few operations per element,
/// small beside the products, and is not counted.
/// </summary>
internal static class LayerFlops
{
    /// <summary>Whether <see cref="Of"/> counts <paramref name="node"/>.</summary>
    public static bool Counts(NodeProto node) => Kind(node) is not null;

    /// <summary>The node's FLOPs; null when it is counted but the shapes it needs are unknown, 0 when it is not counted.</summary>
    public static long? Of(NodeProto node, GraphView graph, ShapeInference shapes)
    {
        long[]? Shape(int input) => node.InputOrEmpty(input).Length > 0 ? shapes.TypeOf(graph, node.Input[input]).KnownShape : null;
        long[]? Output() => node.OutputOrEmpty(0).Length > 0 ? shapes.TypeOf(graph, node.Output[0]).KnownShape : null;
        switch (Kind(node))
        {
            case null:
                return 0;
            case Product.Convolution:
                // Each output element sums (C / group) · kernel products: the weight's dimensions after the first.
                var weight = Shape(node.OpType == "QLinearConv" ? 3 : 1);
                return Output() is { } y && weight is { Length: >= 2 } ? 2 * Elements(y) * Elements(weight[1..]) : null;
            case Product.TransposedConvolution:
                // Each input element is scattered through (M / group) · kernel products.
                return Shape(0) is { } x && Shape(1) is { Length: >= 2 } w ? 2 * Elements(x) * Elements(w[1..]) : null;
            case Product.Gemm:
                var transA = node.GetInt("transA", 0) != 0;
                return Output() is { Length: 2 } gemm && Shape(0) is { Length: 2 } a ? 2 * Elements(gemm) * a[transA ? 0 : 1] : null;
            case Product.MatMul:
                // Each output element is a dot product along A's last axis (numpy.matmul, 1-D operands included).
                return Output() is { } product && Shape(0) is { Length: >= 1 } left ? 2 * Elements(product) * left[^1] : null;
            case Product.MatMulNBits:
                return Output() is { } packed ? 2 * Elements(packed) * node.GetInt("K", 0) : null;
            case Product.Recurrent:
                return Recurrent(node, Shape(0));
            default:
                return null;
        }
    }

    private enum Product { Convolution, TransposedConvolution, Gemm, MatMul, MatMulNBits, Recurrent }

    private static Product? Kind(NodeProto node)
    {
        if (node.Domain == CountingShapes.MicrosoftDomain)
            return node.OpType switch
            {
                "MatMulNBits" => Product.MatMulNBits,
                "MatMulIntegerToFloat" or "DynamicQuantizeMatMul" => Product.MatMul,
                _ => null,
            };
        if (!node.IsStandard()) return null;
        return node.OpType switch
        {
            "Conv" or "ConvInteger" or "QLinearConv" => Product.Convolution,
            "ConvTranspose" => Product.TransposedConvolution,
            "Gemm" => Product.Gemm,
            "MatMul" or "MatMulInteger" or "QLinearMatMul" => Product.MatMul,
            "LSTM" or "GRU" or "RNN" => Product.Recurrent,
            _ => null,
        };
    }

    // Per step and direction: gates · hidden outputs, each a dot product over input + hidden values.
    private static long? Recurrent(NodeProto node, long[]? x)
    {
        var hidden = node.GetInt("hidden_size", 0);
        if (x is not { Length: 3 } || hidden <= 0) return null;
        var (steps, batch, features) = node.GetInt("layout", 0) == 1 ? (x[1], x[0], x[2]) : (x[0], x[1], x[2]);
        var directions = node.GetString("direction", "forward") == "bidirectional" ? 2 : 1;
        var gates = node.OpType switch { "LSTM" => 4, "GRU" => 3, _ => 1 };
        return 2 * steps * batch * directions * gates * hidden * (features + hidden);
    }

    private static long Elements(IEnumerable<long> shape) => shape.Aggregate(1L, (a, d) => a * d);
}
