using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Fuses Add(MatMul(A, B), C) into Gemm(A, B, C) where that is the same computation: A is rank 2 (by shape
/// inference), B is a rank-2 float/double constant, C is a constant of B's type that Gemm can broadcast to
/// [M, N] (a scalar, [N], [1, N], [M, N], [M, 1]...), and the MatMul output is read by this Add alone and is
/// not a graph output. One fused node instead of two, and a bias where quantization expects one.
/// </summary>
public sealed class MatMulAddToGemm : IGraphPass
{
    public string Name => "fuse-matmul-add";

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        if (view.OpsetVersion() < 7) return 0; // Gemm's unidirectional broadcast of C starts at opset 7
        var shapes = ShapeInference.Run(view);
        var fused = 0;
        foreach (var graph in view.Graphs())
            foreach (var add in graph.Nodes.ToList())
            {
                if (add.OpType != "Add" || !add.IsStandard() || add.Input.Count != 2 || add.Output.Count != 1) continue;
                for (var side = 0; side < 2; side++)
                {
                    if (Match(graph, shapes, add.Input[side], add.Input[1 - side]) is not { } matMul) continue;
                    var gemm = OnnxFactory.Node("Gemm", [matMul.Input[0], matMul.Input[1], add.Input[1 - side]], [add.Output[0]],
                        view.Names.Next(matMul.Name.Length > 0 ? $"{matMul.Name}.gemm" : "Gemm"));
                    graph.ReplaceNode(add, gemm);
                    graph.RemoveNode(matMul);
                    fused++;
                    break;
                }
            }
        return fused;
    }

    private static NodeProto? Match(GraphView graph, ShapeInference shapes, string product, string addend)
    {
        if (graph.Producer(product) is not { OpType: "MatMul" } matMul || !matMul.IsStandard() || matMul.Input.Count != 2) return null;
        if (graph.Consumers(product).Count != 1 || graph.IsGraphOutput(product)) return null;
        var a = shapes.TypeOf(graph, matMul.Input[0]);
        if (a.Rank != 2) return null;
        if (graph.ConstantTensor(matMul.Input[1]) is not { Dims.Count: 2 } b || !FloatArrays.IsSupported((DataType)b.DataType)) return null;
        if (graph.ConstantTensor(addend) is not { } c || c.DataType != b.DataType || c.Dims.Count > 2) return null;
        var n = b.Dims[1];
        var m = a.Dims![0];
        var columnsOk = c.Dims.Count == 0 || c.Dims[^1] == 1 || c.Dims[^1] == n;
        var rowsOk = c.Dims.Count < 2 || c.Dims[0] == 1 || (m.IsKnown && c.Dims[0] == m.Value);
        return columnsOk && rowsOk ? matMul : null;
    }
}
