using ModelCompression.Core.Evaluation;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.LayerStatistics;

/// <summary>
/// The rows a layer's weight multiplies are the right ones: W·row (+ bias) reproduces ONNX Runtime's output at every
/// position, so im2col's pads, strides, dilations, groups and patch order match the weight's layout.
/// </summary>
public class LayerInputRowsTests
{
    private sealed record ConvCase(int Channels, long[] Spatial, int Outputs, int Groups, long[] Kernel, params (string Name, object Value)[] Attributes);

    private static readonly Dictionary<string, ConvCase> ConvCases = new()
    {
        ["2-D, pads, stride, dilation, 2 groups"] = new(4, [9, 11], 6, 2, [3, 3], ("pads", new long[] { 1, 2, 0, 1 }), ("strides", new long[] { 2, 1 }), ("dilations", new long[] { 1, 2 })),
        ["2-D depthwise, SAME_UPPER, stride 2"] = new(3, [7, 8], 3, 3, [3, 2], ("auto_pad", "SAME_UPPER"), ("strides", new long[] { 2, 2 })),
        ["2-D, SAME_LOWER, strides 2 and 3, 4x4 kernel"] = new(2, [6, 9], 5, 1, [4, 4], ("auto_pad", "SAME_LOWER"), ("strides", new long[] { 2, 3 })),
        ["2-D, VALID, dilations 3 and 2"] = new(2, [10, 9], 4, 1, [2, 3], ("auto_pad", "VALID"), ("dilations", new long[] { 3, 2 })),
        ["1-D, pads, stride 2, dilation 2, 2 groups"] = new(4, [17], 4, 2, [5], ("pads", new long[] { 3, 1 }), ("strides", new long[] { 2 }), ("dilations", new long[] { 2 })),
        ["1-D, SAME_UPPER"] = new(3, [10], 2, 1, [4], ("auto_pad", "SAME_UPPER")),
        ["1x1 pointwise"] = new(5, [4, 6], 7, 1, [1, 1]),
    };

    [Theory]
    [InlineData("2-D, pads, stride, dilation, 2 groups")]
    [InlineData("2-D depthwise, SAME_UPPER, stride 2")]
    [InlineData("2-D, SAME_LOWER, strides 2 and 3, 4x4 kernel")]
    [InlineData("2-D, VALID, dilations 3 and 2")]
    [InlineData("1-D, pads, stride 2, dilation 2, 2 groups")]
    [InlineData("1-D, SAME_UPPER")]
    [InlineData("1x1 pointwise")]
    public void Conv_patches_times_the_weight_give_ONNX_Runtimes_output(string description)
    {
        var (channels, spatial, outputs, groups, kernel, attributes) = ConvCases[description];
        var model = LayerModels.Conv(channels, spatial, outputs, groups, kernel, attributes);
        var x = NdArray.Create<float>([2, channels, .. spatial], LayerModels.Random(2 * channels * (int)spatial.Aggregate(1L, (a, d) => a * d), 11));
        var y = Run(model, x);

        var layer = Assert.Single(LayerInputFinder(model, "conv"));
        var weight = Initializer(model, "W");
        var bias = Initializer(model, "B");
        var rows = layer.Rows(x) ?? throw new InvalidOperationException($"{description}: no rows");
        var positions = y.ElementCount / (2 * outputs);
        Assert.Equal(2 * positions, rows.Count);
        Assert.Equal(groups, layer.Groups);
        var row = new float[layer.Groups * layer.Dimension];
        var acrossGroups = new float[row.Length]; // the same row element-major, as depthwise layers are summed
        var outputsPerGroup = outputs / groups;
        var yValues = y.AsSpan<float>();
        for (long index = 0; index < rows.Count; index++)
        {
            rows.Write(index, row, layer.Dimension);
            rows.Write(index, acrossGroups, 1, layer.Groups);
            for (var e = 0; e < row.Length; e++)
                Assert.Equal(row[e], acrossGroups[e % layer.Dimension * layer.Groups + e / layer.Dimension]);
            var (batch, position) = (index / positions, index % positions);
            for (var m = 0; m < outputs; m++)
            {
                var group = m / outputsPerGroup;
                var expected = yValues[(int)((batch * outputs + m) * positions + position)];
                var computed = bias[m] + Dot(weight.AsSpan(m * layer.Dimension, layer.Dimension), row.AsSpan(group * layer.Dimension, layer.Dimension));
                Assert.True(Math.Abs(expected - computed) <= 1e-4, $"{description}: row {index}, output channel {m}: ORT {expected}, W·patch {computed}");
            }
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Gemm_rows_times_the_weight_give_ONNX_Runtimes_output(bool transA, bool transB)
    {
        const int m = 5, k = 7, n = 3;
        var weight = LayerModels.Random(k * n, 1);
        var model = new OnnxBuilder(13)
            .Input("a", DataType.Float, transA ? [k, m] : [m, k])
            .Initializer("B", weight, transB ? [n, k] : [k, n])
            .Node("Gemm", ["a", "B"], ["y"], "gemm", ("transA", transA ? 1L : 0L), ("transB", transB ? 1L : 0L))
            .Output("y", DataType.Float, m, n)
            .Build();
        var a = NdArray.Create<float>(transA ? [k, m] : [m, k], LayerModels.Random(m * k, 2));
        var y = Run(model, a).AsSpan<float>();

        var layer = Assert.Single(LayerInputFinder(model, "gemm"));
        Assert.Equal(k, layer.Dimension);
        var rows = layer.Rows(a)!;
        Assert.Equal(m, rows.Count);
        var row = new float[k];
        for (var i = 0; i < m; i++)
        {
            rows.Write(i, row, k);
            for (var j = 0; j < n; j++)
            {
                var computed = 0f;
                for (var t = 0; t < k; t++) computed += row[t] * weight[transB ? j * k + t : t * n + j];
                Assert.Equal(y[i * n + j], computed, 1e-4f);
            }
        }
    }

    [Fact]
    public void MatMul_rows_are_the_last_axis_vectors_of_a_rank_3_input()
    {
        const int k = 6, n = 4;
        var weight = LayerModels.Random(k * n, 1);
        var model = new OnnxBuilder(13)
            .Input("a", DataType.Float, "B", "T", k)
            .Initializer("W", weight, k, n)
            .Node("MatMul", ["a", "W"], ["y"], "matmul")
            .Output("y", DataType.Float, "B", "T", n)
            .Build();
        var a = NdArray.Create<float>([2, 3, k], LayerModels.Random(2 * 3 * k, 2));
        var y = Run(model, a).AsSpan<float>();

        var rows = Assert.Single(LayerInputFinder(model, "matmul")).Rows(a)!;
        Assert.Equal(6, rows.Count);
        var row = new float[k];
        for (var i = 0; i < 6; i++)
        {
            rows.Write(i, row, k);
            for (var j = 0; j < n; j++)
            {
                var computed = 0f;
                for (var t = 0; t < k; t++) computed += row[t] * weight[t * n + j];
                Assert.Equal(y[i * n + j], computed, 1e-4f);
            }
        }
    }

    [Fact]
    public void Only_Conv_Gemm_and_MatMul_nodes_with_a_constant_weight_are_layers()
    {
        var model = new OnnxBuilder(13)
            .Input("a", DataType.Float, 2, 4)
            .Input("b", DataType.Float, 4, 4)
            .Initializer("W", LayerModels.Random(16, 1), 4, 4)
            .Initializer("W3", LayerModels.Random(32, 1), 2, 4, 4)
            .Node("MatMul", ["a", "b"], ["p"], "two_activations")
            .Node("MatMul", ["p", "W"], ["q"], "weighted")
            .Node("MatMul", ["q", "W3"], ["r"], "batched_weight")
            .Node("Relu", ["r"], ["y"], "relu")
            .Output("y", DataType.Float, "d0", "d1", "d2")
            .Build();

        var layers = LayerInputFinder(model, "two_activations", "weighted", "batched_weight", "relu", "absent");

        Assert.Equal(["weighted"], layers.Select(l => l.Node));
        Assert.Equal("p", layers[0].Tensor);
    }

    [Fact]
    public void Rows_are_chosen_evenly_strided_and_all_when_few()
    {
        Assert.Equal(new long[] { 0, 1, 2 }, LayerStatisticsCollector.ChosenRows(3, 4));
        Assert.Equal(new long[] { 0, 2, 5, 7 }, LayerStatisticsCollector.ChosenRows(10, 4));
        Assert.Equal(32, LayerStatisticsCollector.RowsPerSample(256));
        Assert.Equal(256, LayerStatisticsCollector.RowsPerSample(3));
    }

    private static IReadOnlyList<LayerInput> LayerInputFinder(ModelProto model, params string[] nodes) => LayerInput.Find(model, nodes);

    private static NdArray Run(ModelProto model, NdArray input)
    {
        using var runner = new ModelRunner(model, "test");
        return runner.Run(new Dictionary<string, NdArray> { [model.Graph.Input[0].Name] = input })[model.Graph.Output[0].Name];
    }

    private static float[] Initializer(ModelProto model, string name) =>
        TensorProtoConverter.ToNdArray(model.Graph.Initializer.Single(t => t.Name == name)).ToFloats();

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = 0.0;
        for (var i = 0; i < a.Length; i++) sum += (double)a[i] * b[i];
        return (float)sum;
    }
}
