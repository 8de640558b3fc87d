using System.IO.Compression;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Locking;

/// <summary>A model with two MatMul layers and its data files in a temporary directory, as a project holds them.</summary>
internal sealed class LockFixture : IDisposable
{
    private const int Width = 16, Samples = 20;
    private readonly TempDirectory _dir = new("mc-lock");

    public LockFixture()
    {
        OnnxModelFile.Save(Model(), ModelPath);
        WriteData(ValidationPath, seed: 1);
        WriteData(CalibrationPath, seed: 2);
    }

    public string ModelPath => _dir.Combine("model.onnx");

    public string ValidationPath => _dir.Combine("validation.npz");

    public string CalibrationPath => _dir.Combine("calibration.npz");

    public string Combine(params string[] parts) => _dir.Combine(parts);

    public CompressionRequest Request => new()
    {
        ModelPath = ModelPath,
        OutputPath = _dir.Combine("out", "model.onnx"),
        ValidationDataPath = ValidationPath,
        CalibrationDataPath = CalibrationPath,
        Budgets = new Budgets(0.01, 400 * 1024, null),
        Techniques = Technique.Fusion | Technique.Int8 | Technique.Int4,
    };

    public static ModelProto Model(float scale = 1f)
    {
        var random = new Random(3);
        float[] Weights() => Enumerable.Range(0, Width * Width).Select(_ => scale * (float)(random.NextDouble() - 0.5)).ToArray();
        return new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", Width)
            .Initializer("A", Weights(), Width, Width)
            .Initializer("B", Weights(), Width, Width)
            .Node("MatMul", ["x", "A"], ["h"], "layer_a")
            .Node("MatMul", ["h", "B"], ["y"], "layer_b")
            .Output("y", DataType.Float, "N", Width)
            .Build();
    }

    public static Dictionary<string, NdArray> Arrays(int seed)
    {
        var random = new Random(seed);
        var x = Enumerable.Range(0, Samples * Width).Select(_ => (float)random.NextDouble()).ToArray();
        var labels = Enumerable.Range(0, Samples).Select(i => (long)(i % Width)).ToArray();
        return new()
        {
            ["x"] = NdArray.Create<float>([Samples, Width], x),
            ["labels"] = NdArray.Create<long>([Samples], labels),
        };
    }

    public static void WriteData(string path, int seed) => NpzArchive.Write(path, Arrays(seed));

    /// <summary>Writes <paramref name="arrays"/> as a zip whose entries carry <paramref name="timestamp"/>, as np.savez run at that time would.</summary>
    public static void WriteZip(string path, IEnumerable<KeyValuePair<string, NdArray>> arrays, DateTimeOffset timestamp, CompressionLevel level)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, array) in arrays)
        {
            var entry = zip.CreateEntry(name + ".npy", level);
            entry.LastWriteTime = timestamp;
            using var stream = entry.Open();
            Npy.Write(stream, array);
        }
    }

    public void Dispose() => _dir.Dispose();
}
