using Google.Protobuf;
using ModelCompression.Core.Onnx;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// A model's folder as an attacker would lay it out: <c>model/</c> holds the model, a genuine
/// <c>weights.bin</c> of <see cref="ExternalWeightModel.WeightBytes"/> bytes and the validation
/// data; beside it, outside the folder, <c>secret.bin</c> stands for a host file the model must
/// never read (the same length, so that a leaking read would succeed).
/// </summary>
public sealed class UntrustedModelFolder : IDisposable
{
    /// <summary>The secret's marker: no output file may contain it.</summary>
    public static ReadOnlySpan<byte> Marker => "SECRET!!"u8;

    private readonly TempDirectory _root = new("mc-untrusted");

    public UntrustedModelFolder()
    {
        Directory.CreateDirectory(ModelFolder);
        File.WriteAllBytes(SecretPath, Enumerable.Repeat(Marker.ToArray(), ExternalWeightModel.WeightBytes / Marker.Length).SelectMany(b => b).ToArray());
        File.WriteAllBytes(WeightsPath, new byte[ExternalWeightModel.WeightBytes]);
        ExternalWeightModel.WriteData(DataPath);
    }

    public string ModelFolder => _root.Combine("model");

    public string ModelPath => _root.Combine("model", "model.onnx");

    public string WeightsPath => _root.Combine("model", "weights.bin");

    public string DataPath => _root.Combine("model", "data.npz");

    public string SecretPath => _root.Combine("secret.bin");

    /// <summary>Writes <paramref name="model"/> as the folder's model and compresses it with the worker (lossless passes only: quick).</summary>
    public WorkerResult Compress(ModelProto model)
    {
        File.WriteAllBytes(ModelPath, model.ToByteArray());
        return WorkerCli.Run(_root.Path, "compress", ModelPath,
            "--output", _root.Combine("out", "model.onnx"),
            "--validation-data", DataPath,
            "--techniques", "fusion",
            "--report-dir", _root.Combine("report"));
    }

    /// <summary>Fails naming every file (links not followed, the secret itself aside) that holds the secret's bytes.</summary>
    public void AssertNoFileHoldsTheSecret()
    {
        var leaks = Directory.EnumerateFiles(_root.Path, "*", SearchOption.AllDirectories)
            .Where(f => f != SecretPath && new FileInfo(f).LinkTarget is null)
            .Where(f => File.ReadAllBytes(f).AsSpan().IndexOf(Marker) >= 0)
            .ToList();
        Assert.True(leaks.Count == 0, $"The secret's bytes were copied into: {string.Join(", ", leaks)}");
    }

    public void Dispose() => _root.Dispose();
}
