using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.LayerStatistics;

/// <summary>
/// Layer statistics kept on disk between builds: collecting them runs the model over the calibration samples,
/// reading them back is a file read. A file is named by its key, the SHA-256 of everything the moments depend on
/// (the model's bytes, the calibration data's content and chosen samples, the sorted nodes, the collector's limits,
/// ONNX Runtime's version and the <see cref="FormatVersion"/>), and is written to a temporary file then moved, so a
/// killed build leaves no half file. A file that is damaged, truncated or for another key is ignored and the moments
/// are collected again: a cache can only save time, never change a result.
/// </summary>
public static class LayerStatisticsCache
{
    /// <summary>Bumped whenever the file layout or the way moments are collected changes.</summary>
    public const int FormatVersion = 2;

    internal const string Extension = ".layerstats";

    /// <summary>
    /// The moments of <paramref name="nodes"/> from <paramref name="cacheDirectory"/> when a file for this key is there and
    /// sound (<see cref="LayerInputStatistics.FromCache"/>), else collected (<see cref="LayerStatisticsCollector.Collect"/>)
    /// and stored there. A null directory disables the cache; a cache that cannot be written is reported and skipped.
    /// </summary>
    /// <exception cref="Diagnostics.CompressionException">MC1003 ONNX Runtime cannot load the model or run it on a sample.</exception>
    public static LayerInputStatistics GetOrCollect(ModelProto model, string modelName, SampleSet calibration, IReadOnlyCollection<string> nodes,
        string? cacheDirectory, Action<string>? progress, int maxSamples = LayerStatisticsCollector.DefaultSamples, EvaluationOptions? options = null)
    {
        var samples = LayerStatisticsCollector.ChooseSamples(calibration, maxSamples);
        if (cacheDirectory is null)
            return LayerStatisticsCollector.Collect(model, modelName, samples, nodes, samples.Count, progress, options);

        var key = Key(model, samples, nodes, options ?? EvaluationOptions.Default);
        var path = PathFor(cacheDirectory, key);
        if (File.Exists(path))
        {
            if (LayerStatisticsFile.TryRead(path, key, nodes, samples.Count) is { } cached)
            {
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"layer statistics read from the cache: {cached.Count} layers, {LayerStatisticsCollector.Megabytes(cached.Bytes):F1} MB held ({Path.GetFileName(path)})"));
                return cached;
            }
            progress?.Invoke($"layer statistics: the cache file '{path}' is damaged or stale; collecting again");
        }

        var collected = LayerStatisticsCollector.Collect(model, modelName, samples, nodes, samples.Count, progress, options);
        try
        {
            Directory.CreateDirectory(cacheDirectory);
            LayerStatisticsFile.Write(path, key, collected);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            progress?.Invoke($"layer statistics: could not write the cache file '{path}' ({e.Message}); they will be collected again next time");
        }
        return collected;
    }

    /// <summary>The file that holds the moments of <paramref name="key"/> in <paramref name="cacheDirectory"/>.</summary>
    public static string PathFor(string cacheDirectory, byte[] key) => Path.Combine(cacheDirectory, Convert.ToHexStringLower(key) + Extension);

    /// <summary>
    /// The SHA-256 of everything the moments depend on. <paramref name="samples"/> are the samples collected on (already
    /// chosen): its file's content hash and the chosen indices in that file. <paramref name="options"/>' optimization level
    /// counts too: ONNX Runtime's fused kernels may round activations differently.
    /// </summary>
    public static byte[] Key(ModelProto model, SampleSet samples, IReadOnlyCollection<string> nodes, EvaluationOptions options)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            hash.AppendData(BitConverter.GetBytes(bytes.Length)); // length-prefixed: no two lists of strings hash alike
            hash.AppendData(bytes);
        }
        Add("ModelCompression layer statistics");
        Add(FormatVersion.ToString(CultureInfo.InvariantCulture));
        Add(string.Create(CultureInfo.InvariantCulture,
            $"{LayerStatisticsCollector.MaxDimension} {LayerStatisticsCollector.MaxRowsPerLayer} {LayerStatisticsCollector.MaxRowsPerSample} {MomentAccumulator.MaxBlockRows}"));
        Add(typeof(InferenceSession).Assembly.GetName().Version?.ToString() ?? "");
        Add(options.Optimization.ToString());
        Add(OnnxModelFile.HashOf(model));
        Add(samples.ContentSha256);
        Add(string.Join(",", Enumerable.Range(0, samples.Count).Select(i => samples.SourceIndex(i).ToString(CultureInfo.InvariantCulture))));
        var sorted = nodes.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        Add(sorted.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var node in sorted) Add(node);
        return hash.GetHashAndReset();
    }
}
