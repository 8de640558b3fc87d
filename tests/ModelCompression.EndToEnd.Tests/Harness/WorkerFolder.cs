using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// A folder as a repository holds a model: a small two-layer classifier built in C# (<c>model.onnx</c>), its
/// validation data labelled with its own predictions (<c>validation.npz</c>), and where the worker writes (<c>out/</c>).
/// <see cref="Compress"/> runs the worker on it as the MSBuild task does.
/// </summary>
public sealed class WorkerFolder : IDisposable
{
    public const int Features = 32, Classes = 10, Samples = 300;
    private readonly TempDirectory _dir = new("mc-worker");

    public WorkerFolder()
    {
        OnnxModelFile.Save(Model(), ModelPath);
        WriteValidation(Inputs(Samples, seed: 11));
    }

    /// <summary>A copy of a model of ../shared/models (skips the test when absent) with its validation and calibration data.</summary>
    public static WorkerFolder OfSharedModel(string name)
    {
        var source = SharedModels.Folder(name);
        var folder = new WorkerFolder();
        File.Copy(System.IO.Path.Combine(source, "model.onnx"), folder.ModelPath, overwrite: true);
        File.Copy(System.IO.Path.Combine(source, "validation.npz"), folder.ValidationPath, overwrite: true);
        var calibration = System.IO.Path.Combine(source, "calibration.npz");
        if (File.Exists(calibration)) File.Copy(calibration, folder.CalibrationPath);
        return folder;
    }

    public string Path => _dir.Path;

    public string ModelPath => Combine("model.onnx");

    public string ValidationPath => Combine("validation.npz");

    /// <summary>Used only by <see cref="CompressWithDefaults"/>, and only when present.</summary>
    public string CalibrationPath => Combine("calibration.npz");

    public string LockPath => Combine("model.compression.lock.json");

    public string OutputPath => Combine("out", "model.onnx");

    public string SignaturePath => Combine("out", "model.onnx.mcsig");

    public string ReportDirectory => Combine("out", "model.onnx.report");

    public string Combine(params string[] parts) => _dir.Combine(parts);

    /// <summary>y = Relu(x·A)·B with fixed random weights.</summary>
    public static ModelProto Model() => TestModels.Mlp(Features, Features, Classes, seed: 5);

    public static NdArray Inputs(int samples, int seed) => SyntheticInputs.Uniform([samples, Features], seed);

    /// <summary>Writes <paramref name="x"/> as the validation data, labelled with the model's own predictions.</summary>
    public void WriteValidation(NdArray x)
    {
        using var runner = new ModelRunner(Model(), "model.onnx");
        var logits = runner.Run(new Dictionary<string, NdArray> { ["x"] = x })["y"].ToFloats();
        var count = (int)x.Shape[0];
        var labels = Enumerable.Range(0, count).Select(s => (long)Enumerable.Range(0, Classes).MaxBy(c => float.IsNaN(logits[s * Classes + c]) ? float.MinValue : logits[s * Classes + c])).ToArray();
        NpzArchive.Write(ValidationPath, [new("x", x), new("labels", NdArray.Create<long>([count], labels))]);
    }

    /// <summary>
    /// <c>compress</c> with the arguments the MSBuild task passes (int8 only, a 2-point budget), plus
    /// <paramref name="extra"/> (e.g. <c>--locked-mode</c>).
    /// </summary>
    public WorkerResult Compress(params string[] extra) => CompressWith("fusion;int8", extra);

    /// <summary><see cref="Compress"/> allowing <paramref name="techniques"/>.</summary>
    public WorkerResult CompressWith(string techniques, params string[] extra) =>
        WorkerCli.Run(Path, ["compress", ModelPath, "--output", OutputPath, "--validation-data", ValidationPath,
            "--signature", SignaturePath, "--class-name", "Model", "--report-dir", ReportDirectory, "--lock", LockPath,
            "--techniques", techniques, "--max-accuracy-drop", "2%", .. extra]);

    /// <summary>
    /// <c>compress</c> as a CompressedModel item that sets only MaxAccuracyDrop: every technique, the default metric and
    /// search time, and calibration.npz when the folder holds one. Killed after <paramref name="timeout"/> (default 10 minutes).
    /// </summary>
    /// <param name="core">Run the worker on this core alone; null: on any.</param>
    public WorkerResult CompressWithDefaults(string maxAccuracyDrop, TimeSpan? timeout = null, int? core = null)
    {
        string[] calibration = File.Exists(CalibrationPath) ? ["--calibration-data", CalibrationPath] : [];
        return WorkerCli.Run(Path, new Dictionary<string, string>(), timeout ?? DotNet.DefaultTimeout, core,
            ["compress", ModelPath, "--output", OutputPath, "--validation-data", ValidationPath, .. calibration,
             "--signature", SignaturePath, "--class-name", "Model", "--report-dir", ReportDirectory, "--lock", LockPath,
             "--max-accuracy-drop", maxAccuracyDrop]);
    }

    public void Dispose() => _dir.Dispose();
}
