using System.Runtime.InteropServices;
using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.LayerStatistics;

/// <summary>The collected moments are E[x xᵀ] of the captured rows, symmetric, and the same bytes every time.</summary>
public class LayerStatisticsCollectorTests
{
    [Fact]
    public void Moments_equal_a_direct_computation_on_the_captured_rows_and_are_symmetric()
    {
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 40);

        var statistics = LayerStatisticsCollector.Collect(model, "network", samples, LayerModels.NetworkLayers);

        Assert.Equal(5, statistics.Count);
        Assert.False(statistics.FromCache);
        var layers = LayerInput.Find(model, LayerModels.NetworkLayers);
        var captured = Capture(model, samples, layers.Select(l => l.Tensor).ToList());
        foreach (var layer in layers)
        {
            var moments = statistics.For(layer.Node) ?? throw new InvalidOperationException($"{layer.Node}: no moments");
            var (expected, rows) = Direct(layer, captured[layer.Tensor], LayerStatisticsCollector.RowsPerSample(samples.Count));
            Assert.Equal(layer.Dimension, moments.Dimension);
            Assert.Equal(layer.Groups, moments.Groups);
            Assert.Equal(rows, moments.Rows);
            Assert.Equal(layer.Groups * layer.Dimension * layer.Dimension, moments.Matrix.Length);
            var n = layer.Dimension;
            for (var g = 0; g < layer.Groups; g++)
            {
                var matrix = moments.Of(g);
                for (var i = 0; i < n; i++)
                    for (var j = 0; j < n; j++)
                    {
                        Assert.Equal(matrix[i * n + j], matrix[j * n + i]);
                        var want = expected[(g * n + i) * n + j];
                        Assert.True(Math.Abs(matrix[i * n + j] - want) <= 1e-5 * (1 + Math.Abs(want)), $"{layer.Node} group {g} H[{i},{j}]: {matrix[i * n + j]} vs {want}");
                    }
            }
        }
        // conv_b (2 groups) has 5×5 output positions per sample, fewer than the 204 a sample may give: all are taken.
        Assert.Equal(2, statistics.For("conv_b")!.Groups);
        Assert.Equal(40L * 5 * 5, statistics.For("conv_b")!.Rows);
        // conv_d (depthwise: 8 groups of 9) is summed across groups, the others row-wise.
        Assert.True(new MomentAccumulator(9, 8).AcrossGroups);
        Assert.False(new MomentAccumulator(36, 2).AcrossGroups);
        Assert.Equal(8, statistics.For("conv_d")!.Groups);
    }

    [Fact]
    public void Rows_per_layer_are_capped_by_sampling_positions_evenly()
    {
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 300, seed: 3);

        var statistics = LayerStatisticsCollector.Collect(model, "network", samples, ["conv_a"]);

        // 256 samples × 32 of conv_a's 120 positions each: the cap of 8192 rows.
        Assert.Equal(256L * 32, statistics.For("conv_a")!.Rows);
        Assert.Equal(256, statistics.Samples);
    }

    [Fact]
    public void Two_collections_give_the_same_bytes()
    {
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 25);

        var first = LayerStatisticsCollector.Collect(model, "network", samples, LayerModels.NetworkLayers);
        var second = LayerStatisticsCollector.Collect(model, "network", samples, LayerModels.NetworkLayers,
            options: new EvaluationOptions { IntraOpThreads = 1 });

        foreach (var node in LayerModels.NetworkLayers)
            Assert.Equal(MemoryMarshal.AsBytes(first.For(node)!.Matrix.AsSpan()).ToArray(), MemoryMarshal.AsBytes(second.For(node)!.Matrix.AsSpan()).ToArray());
    }

    [Fact]
    public void A_large_layer_summed_on_several_threads_gives_the_same_bytes_as_one_row_at_a_time()
    {
        // Rows 300 wide: blocks large enough for the parallel tiles, whose scheduling differs from run to run.
        var rows = LayerModels.Random(700 * 300, 5);
        float[] Accumulate()
        {
            var accumulator = new MomentAccumulator(300, 1);
            for (var r = 0; r < 700; r++)
            {
                rows.AsSpan(r * 300, 300).CopyTo(accumulator.NextRow());
                accumulator.Commit();
            }
            return accumulator.Finish()!.Matrix;
        }
        var first = Accumulate();
        var second = Accumulate();

        Assert.Equal(first, second);
        var direct = new double[300 * 300];
        for (var r = 0; r < 700; r++)
            for (var i = 0; i < 300; i++)
                for (var j = 0; j < 300; j++)
                    direct[i * 300 + j] += (double)rows[r * 300 + i] * rows[r * 300 + j] / 700;
        for (var e = 0; e < direct.Length; e++)
            Assert.True(Math.Abs(first[e] - direct[e]) <= 1e-5 * (1 + Math.Abs(direct[e])), $"element {e}: {first[e]} vs {direct[e]}");
    }

    [Fact]
    public void Layers_wider_than_the_cap_and_unknown_nodes_get_no_moments()
    {
        const int wide = LayerStatisticsCollector.MaxDimension + 1;
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", wide)
            .Initializer("W", new float[wide * 2], wide, 2)
            .Node("MatMul", ["x", "W"], ["y"], "wide")
            .Output("y", DataType.Float, "N", 2)
            .Build();
        var samples = SampleSet.FromArrays("c.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([2, wide], new float[2 * wide]) }, model);
        var lines = new List<string>();

        var statistics = LayerStatisticsCollector.Collect(model, "wide", samples, ["wide", "absent"], progress: lines.Add);

        Assert.Equal(0, statistics.Count);
        Assert.Null(statistics.For("wide"));
        Assert.Contains(lines, l => l.Contains("1 layer with rows over 4608 (or too many groups) skipped", StringComparison.Ordinal));
    }

    /// <summary>Every sample's value of each tensor, captured with the calibrator's extra outputs.</summary>
    private static Dictionary<string, List<NdArray>> Capture(ModelProto model, SampleSet samples, IReadOnlyList<string> tensors)
    {
        var distinct = tensors.Distinct().ToList();
        var probe = Calibrator.WithOutputs(model, distinct, out var inputs);
        using var runner = new ModelRunner(probe, "probe");
        var captured = distinct.ToDictionary(t => t, _ => new List<NdArray>());
        for (var i = 0; i < samples.Count; i++)
        {
            var feed = samples.Sample(i);
            var outputs = runner.Run(feed, distinct.Where(t => !inputs.Contains(t)).ToList());
            foreach (var t in distinct) captured[t].Add(outputs.TryGetValue(t, out var v) ? v : feed[t]);
        }
        return captured;
    }

    /// <summary>H per group computed in double from the same chosen rows.</summary>
    private static (double[] H, long Rows) Direct(LayerInput layer, List<NdArray> values, int rowsPerSample)
    {
        var n = layer.Dimension;
        var h = new double[layer.Groups * n * n];
        var row = new float[layer.Groups * n];
        long count = 0;
        foreach (var value in values)
        {
            var rows = layer.Rows(value)!;
            foreach (var index in LayerStatisticsCollector.ChosenRows(rows.Count, rowsPerSample))
            {
                rows.Write(index, row, layer.Dimension);
                count++;
                for (var g = 0; g < layer.Groups; g++)
                    for (var i = 0; i < n; i++)
                        for (var j = 0; j < n; j++)
                            h[(g * n + i) * n + j] += (double)row[g * n + i] * row[g * n + j];
            }
        }
        for (var e = 0; e < h.Length; e++) h[e] /= count;
        return (h, count);
    }
}
