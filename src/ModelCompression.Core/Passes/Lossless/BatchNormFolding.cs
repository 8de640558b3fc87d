using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Folds an inference BatchNormalization, y = s·x + t per channel (s = scale/√(var+ε), t = B − mean·s),
/// into the node that produces x: the weights of Conv (per output channel), ConvTranspose (per output
/// channel, groups respected) and Gemm (per column of B, transB respected) are scaled by s and t goes into
/// their bias (created when absent). For MatMul (only when its output is rank 2, so that BN's channel axis 1
/// is MatMul's last axis) B's columns are scaled and the BatchNormalization becomes an Add of t, which
/// <see cref="MatMulAddToGemm"/> then fuses. Only when the producer's output has no other reader, every
/// weight and BN parameter is a constant float/double, and BN runs in inference mode (opset ≥ 7, spatial,
/// no training outputs in use).
/// </summary>
public sealed class BatchNormFolding : IGraphPass
{
    public string Name => "fold-batchnorm";

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        if (view.OpsetVersion() < 7) return 0; // ONNX Runtime has no BatchNormalization kernel before opset 7
        ShapeInference? shapes = null;
        var folded = 0;
        foreach (var graph in view.Graphs())
        {
            if (!graph.CanAddInitializers) continue;
            foreach (var bn in graph.Nodes.ToList())
            {
                if (bn.OpType != "BatchNormalization" || !bn.IsStandard() || ReadAffine(graph, bn) is not { } affine) continue;
                var x = bn.Input[0];
                if (graph.Producer(x) is not { } producer || !producer.IsStandard() || graph.Consumers(x).Count != 1 || graph.IsGraphOutput(x))
                    continue;
                var done = producer.OpType switch
                {
                    "Conv" => FoldIntoConv(graph, producer, affine, transposed: false),
                    "ConvTranspose" => FoldIntoConv(graph, producer, affine, transposed: true),
                    "Gemm" => FoldIntoGemm(graph, producer, affine),
                    "MatMul" => FoldIntoMatMul(graph, producer, bn, affine, shapes ??= ShapeInference.Run(view)),
                    _ => false,
                };
                if (!done) continue;
                if (producer.OpType != "MatMul")
                {
                    graph.RemoveNode(bn);
                    graph.RenameValue(x, bn.Output[0]);
                }
                folded++;
            }
        }
        return folded;
    }

    /// <summary>y = Scale[c]·x + Shift[c] along axis 1.</summary>
    private sealed record Affine(double[] Scale, double[] Shift)
    {
        public int Channels => Scale.Length;
    }

    private static Affine? ReadAffine(GraphView graph, NodeProto bn)
    {
        var opset = graph.Model.OpsetVersion();
        if (opset >= 14 && bn.GetInt("training_mode", 0) != 0) return null;
        if (opset < 9 && bn.GetInt("spatial", 1) != 1) return null;
        if (bn.Input.Count != 5 || bn.Output.Count == 0 || bn.Output[0].Length == 0) return null;
        if (bn.Output.Skip(1).Any(o => o.Length > 0 && graph.IsUsed(o))) return null; // running statistics are read
        var parameters = new double[4][];
        for (var i = 0; i < 4; i++)
        {
            if (!graph.TryGetConstant(bn.Input[i + 1], out var p) || p.Rank != 1 || !FloatArrays.IsSupported(p.ElementType)) return null;
            parameters[i] = FloatArrays.Read(p);
        }
        var (scale, bias, mean, variance) = (parameters[0], parameters[1], parameters[2], parameters[3]);
        var channels = scale.Length;
        if (bias.Length != channels || mean.Length != channels || variance.Length != channels) return null;
        var epsilon = bn.GetFloat("epsilon", 1e-5f);
        var s = new double[channels];
        var t = new double[channels];
        for (var c = 0; c < channels; c++)
        {
            s[c] = scale[c] / Math.Sqrt(variance[c] + epsilon);
            t[c] = bias[c] - mean[c] * s[c];
        }
        return new Affine(s, t);
    }

    // Conv W: [M, C/group, k...], output channel m = W's axis 0.
    // ConvTranspose W: [C, M/group, k...], output channel = group(c)·(M/group) + j for W[c, j].
    private static bool FoldIntoConv(GraphView graph, NodeProto conv, Affine bn, bool transposed)
    {
        if (!graph.TryGetConstant(conv.InputOrEmpty(1), out var w) || w.Rank < 3 || !FloatArrays.IsSupported(w.ElementType)) return false;
        var group = conv.GetInt("group", 1);
        var shape = w.Shape.ToArray();
        var outputChannels = transposed ? shape[1] * group : shape[0];
        if (outputChannels != bn.Channels || shape[0] % (transposed ? group : 1) != 0) return false;
        var bias = new double[bn.Channels];
        if (conv.InputOrEmpty(2).Length > 0)
        {
            if (!graph.TryGetConstant(conv.Input[2], out var b) || b.ElementCount != bn.Channels || !FloatArrays.IsSupported(b.ElementType)) return false;
            bias = FloatArrays.Read(b);
        }

        var weights = FloatArrays.Read(w);
        var inner = weights.Length / (shape[0] * shape[1]); // kernel elements
        var inputsPerGroup = shape[0] / group;
        for (var i = 0; i < shape[0]; i++)
            for (var j = 0; j < shape[1]; j++)
            {
                var channel = transposed ? i / inputsPerGroup * shape[1] + j : i;
                var offset = (i * shape[1] + j) * inner;
                for (var k = 0; k < inner; k++) weights[offset + k] *= bn.Scale[channel];
            }
        for (var c = 0; c < bn.Channels; c++) bias[c] = bias[c] * bn.Scale[c] + bn.Shift[c];

        var baseName = conv.Name.Length > 0 ? conv.Name : conv.Output[0];
        graph.SetConstantInput(conv, 1, FloatArrays.Write(w.ElementType, shape, weights), $"{baseName}.weight");
        graph.SetConstantInput(conv, 2, FloatArrays.Write(w.ElementType, [bn.Channels], bias), $"{baseName}.bias");
        return true;
    }

    // y = s·(α·A·B + β·C) + t = α·A·(B·diag(s)) + (s·β·C + t): scale B's columns, set C' = s·β·C + t and β = 1.
    private static bool FoldIntoGemm(GraphView graph, NodeProto gemm, Affine bn)
    {
        if (!graph.TryGetConstant(gemm.InputOrEmpty(1), out var b) || b.Rank != 2 || !FloatArrays.IsSupported(b.ElementType)) return false;
        var transB = gemm.GetInt("transB", 0) != 0;
        var (k, n) = transB ? (b.Shape[1], b.Shape[0]) : (b.Shape[0], b.Shape[1]);
        if (n != bn.Channels) return false;

        double[] c;
        long rows;
        var beta = gemm.GetFloat("beta", 1f);
        if (gemm.InputOrEmpty(2).Length > 0)
        {
            if (!graph.TryGetConstant(gemm.Input[2], out var given) || given.Rank > 2 || !FloatArrays.IsSupported(given.ElementType)) return false;
            var cShape = given.Shape.ToArray();
            var columns = cShape.Length == 0 ? 1 : cShape[^1];
            rows = cShape.Length == 2 ? cShape[0] : 1;
            if (columns != 1 && columns != n) return false;
            var values = FloatArrays.Read(given);
            c = new double[rows * n];
            for (var r = 0; r < rows; r++)
                for (var j = 0; j < n; j++) c[r * n + j] = values[r * columns + (columns == 1 ? 0 : j)];
        }
        else
        {
            (c, rows, beta) = (new double[n], 1, 0f);
        }

        var weights = FloatArrays.Read(b);
        for (var i = 0; i < k; i++)
            for (var j = 0; j < n; j++) weights[transB ? j * k + i : i * n + j] *= bn.Scale[j];
        for (var r = 0; r < rows; r++)
            for (var j = 0; j < n; j++) c[r * n + j] = bn.Scale[j] * beta * c[r * n + j] + bn.Shift[j];

        var baseName = gemm.Name.Length > 0 ? gemm.Name : gemm.Output[0];
        long[] cShapeOut = gemm.InputOrEmpty(2).Length > 0 && rows > 1 ? [rows, n] : [n];
        graph.SetConstantInput(gemm, 1, FloatArrays.Write(b.ElementType, b.Shape, weights), $"{baseName}.weight");
        graph.SetConstantInput(gemm, 2, FloatArrays.Write(b.ElementType, cShapeOut, c), $"{baseName}.bias");
        gemm.SetAttribute("beta", 1f);
        return true;
    }

    // MatMul has no bias: scale B's columns and turn the BatchNormalization into Add(x, t).
    private static bool FoldIntoMatMul(GraphView graph, NodeProto matMul, NodeProto bn, Affine affine, ShapeInference shapes)
    {
        if (shapes.TypeOf(graph, matMul.Input[0]).Rank != 2) return false;
        if (!graph.TryGetConstant(matMul.InputOrEmpty(1), out var b) || b.Rank != 2 || !FloatArrays.IsSupported(b.ElementType)) return false;
        var (k, n) = (b.Shape[0], b.Shape[1]);
        if (n != affine.Channels) return false;

        var weights = FloatArrays.Read(b);
        for (var i = 0; i < k; i++)
            for (var j = 0; j < n; j++) weights[i * n + j] *= affine.Scale[j];
        var baseName = matMul.Name.Length > 0 ? matMul.Name : matMul.Output[0];
        graph.SetConstantInput(matMul, 1, FloatArrays.Write(b.ElementType, b.Shape, weights), $"{baseName}.weight");
        var shift = graph.Model.Names.Next($"{baseName}.bias");
        graph.AddInitializer(TensorProtoConverter.ToTensorProto(FloatArrays.Write(b.ElementType, [n], affine.Shift), shift));
        var add = OnnxFactory.Node("Add", [bn.Input[0], shift], [bn.Output[0]], graph.Model.Names.Next($"{baseName}.add"));
        graph.ReplaceNode(bn, add);
        return true;
    }
}
