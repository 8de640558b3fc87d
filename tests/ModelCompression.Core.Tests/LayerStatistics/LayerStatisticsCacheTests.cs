using System.Runtime.InteropServices;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.LayerStatistics;

/// <summary>The cache returns what was collected without running the model, and a damaged file is never trusted.</summary>
public class LayerStatisticsCacheTests
{
    [Fact]
    public void The_second_call_reads_the_same_floats_from_the_cache()
    {
        using var directory = new TempDirectory();
        var cache = directory.Combine("stats", "nested");
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 20);
        var lines = new List<string>();

        var collected = LayerStatisticsCache.GetOrCollect(model, "network", samples, LayerModels.NetworkLayers, cache, lines.Add);
        var cached = LayerStatisticsCache.GetOrCollect(model, "network", samples, LayerModels.NetworkLayers.Reverse().ToList(), cache, lines.Add);

        Assert.False(collected.FromCache);
        Assert.True(cached.FromCache);
        Assert.Equal(collected.Count, cached.Count);
        Assert.Equal(collected.Bytes, cached.Bytes);
        Assert.Equal(collected.Samples, cached.Samples);
        foreach (var node in LayerModels.NetworkLayers)
        {
            var (a, b) = (collected.For(node)!, cached.For(node)!);
            Assert.Equal((a.Dimension, a.Groups, a.Rows), (b.Dimension, b.Groups, b.Rows));
            Assert.Equal(Bytes(a), Bytes(b));
        }
        Assert.Single(Directory.GetFiles(cache));
        Assert.Contains(lines, l => l.StartsWith("collecting layer statistics: 5 layers, 20 samples", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("layer statistics read from the cache: 5 layers", StringComparison.Ordinal));
    }

    [Fact]
    public void Other_nodes_samples_or_weights_make_another_key()
    {
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 20);
        var options = EvaluationOptions.Default;
        var key = LayerStatisticsCache.Key(model, samples, LayerModels.NetworkLayers, options);

        Assert.Equal(key, LayerStatisticsCache.Key(model.Clone(), samples, LayerModels.NetworkLayers.Reverse().ToList(), options));
        Assert.NotEqual(key, LayerStatisticsCache.Key(model, samples, ["conv_a"], options));
        Assert.NotEqual(key, LayerStatisticsCache.Key(model, samples.Spread(10), LayerModels.NetworkLayers, options));
        Assert.NotEqual(key, LayerStatisticsCache.Key(model, LayerModels.NetworkSamples(model, 20, seed: 8), LayerModels.NetworkLayers, options));
        var changed = model.Clone();
        changed.Graph.Initializer[0].RawData = Google.Protobuf.ByteString.CopyFrom(new byte[changed.Graph.Initializer[0].RawData.Length]);
        Assert.NotEqual(key, LayerStatisticsCache.Key(changed, samples, LayerModels.NetworkLayers, options));
    }

    public static TheoryData<string> Damages => ["truncated", "flipped float", "flipped header", "empty", "garbage", "huge length"];

    [Theory]
    [MemberData(nameof(Damages))]
    public void A_damaged_cache_file_is_ignored_and_the_moments_collected_again(string damage)
    {
        using var directory = new TempDirectory();
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 12);
        var original = LayerStatisticsCache.GetOrCollect(model, "network", samples, LayerModels.NetworkLayers, directory.Path, null);
        var path = Assert.Single(Directory.GetFiles(directory.Path));
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, damage switch
        {
            "truncated" => bytes[..(bytes.Length / 2)],
            "flipped float" => Flip(bytes, bytes.Length - 100),
            "flipped header" => Flip(bytes, 2),
            "empty" => [],
            "garbage" => LayerModels.Random(1000, 3).SelectMany(BitConverter.GetBytes).ToArray(),
            // The first layer's name length (after magic, version, key, samples, count) claims 2 GB.
            "huge length" => Patch(bytes, 4 + 4 + 32 + 4 + 4, BitConverter.GetBytes(int.MaxValue)),
            _ => throw new ArgumentOutOfRangeException(nameof(damage)),
        });
        var lines = new List<string>();

        var again = LayerStatisticsCache.GetOrCollect(model, "network", samples, LayerModels.NetworkLayers, directory.Path, lines.Add);

        Assert.False(again.FromCache);
        Assert.Contains(lines, l => l.Contains("damaged or stale", StringComparison.Ordinal));
        foreach (var node in LayerModels.NetworkLayers) Assert.Equal(Bytes(original.For(node)!), Bytes(again.For(node)!));
        // The file was rewritten whole: the next call reads it.
        Assert.True(LayerStatisticsCache.GetOrCollect(model, "network", samples, LayerModels.NetworkLayers, directory.Path, null).FromCache);
        Assert.Empty(Directory.GetFiles(directory.Path, "*.tmp"));
    }

    [Fact]
    public void Without_a_directory_nothing_is_cached()
    {
        var model = LayerModels.Network();
        var samples = LayerModels.NetworkSamples(model, 5);

        var first = LayerStatisticsCache.GetOrCollect(model, "network", samples, ["head"], null, null);
        var second = LayerStatisticsCache.GetOrCollect(model, "network", samples, ["head"], null, null);

        Assert.False(first.FromCache);
        Assert.False(second.FromCache);
        Assert.Equal(Bytes(first.For("head")!), Bytes(second.For("head")!));
    }

    private static byte[] Bytes(InputMoments moments) => MemoryMarshal.AsBytes(moments.Matrix.AsSpan()).ToArray();

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x10;
        return copy;
    }

    private static byte[] Patch(byte[] bytes, int at, byte[] with)
    {
        var copy = bytes.ToArray();
        with.CopyTo(copy, at);
        return copy;
    }
}
