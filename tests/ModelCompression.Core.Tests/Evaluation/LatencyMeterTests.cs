using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Evaluation;

public class LatencyMeterTests
{
    private static readonly LatencyOptions Quick = new() { WarmupRuns = 3, Runs = 15 };

    // x [1, 256] through `layers` MatMuls with 256 x 256 weights: work grows with the layer count.
    private static ModelProto Chain(int layers)
    {
        var builder = new OnnxBuilder().Input("x", DataType.Float, 1L, 256L);
        var weights = Enumerable.Range(0, 256 * 256).Select(i => (i % 17 - 8) / 256f).ToArray();
        var current = "x";
        for (var i = 0; i < layers; i++)
        {
            builder.Initializer($"w{i}", weights, 256, 256).Node("MatMul", [current, $"w{i}"], [$"h{i}"]);
            current = $"h{i}";
        }
        return builder.Node("Identity", [current], ["y"]).Output("y", DataType.Float, 1L, 256L).Build();
    }

    private static Dictionary<string, NdArray> Sample() =>
        new() { ["x"] = NdArray.Create<float>([1, 256], Enumerable.Range(0, 256).Select(i => i / 256f).ToArray()) };

    [Fact]
    public void The_median_of_a_model_is_a_positive_time()
    {
        var median = LatencyMeter.Median(Chain(2), "chain.onnx", Sample(), Quick);

        Assert.InRange(median, TimeSpan.FromTicks(1), TimeSpan.FromSeconds(1));
    }

    [Fact]
    public void A_model_doing_forty_times_the_work_is_measured_slower()
    {
        var comparison = LatencyMeter.Compare(Chain(1), "one.onnx", Chain(40), "forty.onnx", Sample(), Quick);

        Assert.True(comparison.Ratio > 3, $"ratio {comparison.Ratio:F2} ({comparison.Baseline} vs {comparison.Candidate})");
        Assert.True(LatencyMeter.Compare(Chain(40), "forty.onnx", Chain(1), "one.onnx", Sample(), Quick).Ratio < 1.0 / 3);
    }

    [Fact]
    public void A_model_compared_with_itself_is_about_as_fast()
    {
        var model = Chain(10);

        var comparison = LatencyMeter.Compare(model, "a.onnx", model, "b.onnx", Sample(), Quick);

        // Wide bounds: the build machine is shared; interleaving keeps the two medians close.
        Assert.InRange(comparison.Ratio, 0.5, 2.0);
    }
}
