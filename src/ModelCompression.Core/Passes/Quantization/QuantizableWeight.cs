using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Quantization;

/// <summary>A constant weight input of a Conv, Gemm or MatMul node and its output-channel axis.</summary>
public sealed record QuantizableWeight(NodeProto Node, int InputIndex, TensorProto Initializer, int ChannelAxis)
{
    /// <summary>The weights of <paramref name="graph"/>'s Conv/Gemm/MatMul nodes that are initializers.</summary>
    public static IEnumerable<QuantizableWeight> Find(GraphProto graph)
    {
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (node.Domain is not ("" or "ai.onnx") || node.Input.Count < 2) continue;
            if (!initializers.TryGetValue(node.Input[1], out var weight) || weight.DataType != (int)DataType.Float) continue;
            if (initializers.ContainsKey(node.Input[0])) continue; // both operands constant: folding's job, not ours
            int? axis = node.OpType switch
            {
                // Conv weight [M, C/group, k...]: output channels on axis 0.
                "Conv" => 0,
                // Gemm B is [K, N], or [N, K] with transB: the output features are N.
                "Gemm" when weight.Dims.Count == 2 => IntAttribute(node, "transB") == 1 ? 0 : 1,
                // MatMul B [..., K, N]: output features on the last axis.
                "MatMul" when weight.Dims.Count >= 2 => weight.Dims.Count - 1,
                _ => null,
            };
            if (axis is not null) yield return new QuantizableWeight(node, 1, weight, axis.Value);
        }
    }

    private static long IntAttribute(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? 0;
}
