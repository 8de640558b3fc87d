using System.Diagnostics;
using ModelCompression.Core.Data;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.LayerStatistics;

/// <summary>Layer statistics of a real model: the time and memory they take, and the cache's saving.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelLayerStatisticsTests
{
    [Fact]
    public void Ppocr_rec_statistics_are_collected_in_bounded_time_and_memory_then_read_from_the_cache()
    {
        var folder = SharedModels.Folder("ppocr-rec");
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        new LosslessPipeline().Apply(model);
        var calibration = SampleSet.Load(Path.Combine(folder, "calibration.npz"), DataSetting.CalibrationData, model);
        var layers = CompressionSpace.Find(model, Technique.All).Layers.Select(l => l.Node).ToList();
        using var cache = new TempDirectory();
        var lines = new List<string>();

        var clock = Stopwatch.StartNew();
        var collected = LayerStatisticsCache.GetOrCollect(model, "ppocr-rec", calibration, layers, cache.Path, lines.Add);
        var collecting = clock.Elapsed;
        clock.Restart();
        var cached = LayerStatisticsCache.GetOrCollect(model, "ppocr-rec", calibration, layers, cache.Path, lines.Add);
        var reading = clock.Elapsed;

        foreach (var line in lines) Log(line);
        Log($"ppocr-rec: {layers.Count} layers asked, {collected.Count} with moments over {collected.Samples} samples; " +
            $"collected in {collecting.TotalSeconds:F1} s, read back in {reading.TotalSeconds:F2} s; {collected.Bytes / 1048576.0:F1} MB held");
        foreach (var node in collected.Nodes.Take(5).Concat(collected.Nodes.TakeLast(3)))
        {
            var m = collected.For(node)!;
            Log($"  {node}: dimension {m.Dimension}, groups {m.Groups}, rows {m.Rows}");
        }
        Assert.False(collected.FromCache);
        Assert.True(cached.FromCache);
        Assert.True(collected.Count >= 40, $"only {collected.Count} layers have moments");
        Assert.All(collected.Nodes, node => Assert.Equal(collected.For(node)!.Matrix, cached.For(node)!.Matrix));
        Assert.All(collected.Nodes, node => Assert.All(collected.For(node)!.Matrix, v => Assert.True(float.IsFinite(v))));
    }

    private static void Log(string message) => TestContext.Current.TestOutputHelper?.WriteLine(message);
}
