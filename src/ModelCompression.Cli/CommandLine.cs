using System.CommandLine;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Signatures;

namespace ModelCompression.Cli;

/// <summary>The worker's command line: <c>compress</c> does one CompressedModel item.</summary>
public static class CommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("ModelCompression.Build worker: compresses ONNX models within accuracy, size and latency budgets.");
        root.Subcommands.Add(CompressCommand());
        root.Subcommands.Add(SignatureCommand());
        return root;
    }

    private static Command CompressCommand()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to compress." };
        var output = new Option<FileInfo>("--output") { Description = "Where to write the compressed model.", Required = true };
        var validation = new Option<FileInfo?>("--validation-data") { Description = "The .npz whose samples measure the metric." };
        var calibration = new Option<FileInfo?>("--calibration-data") { Description = "The .npz for calibration (default: the validation data)." };
        var maxDrop = new Option<string>("--max-accuracy-drop") { Description = "Allowed drop of the metric, e.g. 1%.", DefaultValueFactory = _ => "1%" };
        var maxSize = new Option<string?>("--max-size") { Description = "Largest allowed compressed file, e.g. 400KB." };
        var maxLatency = new Option<string?>("--max-latency") { Description = "Largest allowed median batch-1 latency, e.g. 2ms." };
        var metric = new Option<string?>("--metric") { Description = "accuracy, agreement, cosine or mse." };
        var techniques = new Option<string?>("--techniques") { Description = "Techniques the search may use, e.g. fusion;int8." };
        var signature = new Option<FileInfo?>("--signature") { Description = "Write the signature sidecar for the wrapper generator here." };
        var className = new Option<string>("--class-name") { Description = "The wrapper's class name (for the sidecar).", DefaultValueFactory = _ => "" };
        var ns = new Option<string>("--namespace") { Description = "The wrapper's namespace (for the sidecar).", DefaultValueFactory = _ => "" };
        var relativePath = new Option<string?>("--model-relative-path") { Description = "The compressed model's path relative to the app directory." };
        var reportDir = new Option<DirectoryInfo?>("--report-dir") { Description = "Write the Markdown, JSON and SVG report here." };
        var lockPath = new Option<FileInfo?>("--lock") { Description = "The plan lock (default: <model>.compression.lock.json)." };
        var locked = new Option<bool>("--locked-mode") { Description = "Fail on a missing or stale plan lock instead of searching." };
        var maxSearch = new Option<string?>("--max-search-time") { Description = "Stop the search after this long, e.g. 10m." };

        var command = new Command("compress", "Compress one model within its budgets.")
        {
            model, output, validation, calibration, maxDrop, maxSize, maxLatency, metric, techniques,
            signature, className, ns, relativePath, reportDir, lockPath, locked, maxSearch,
        };
        command.SetAction(result =>
        {
            var log = new ConsoleLog();
            var modelPath = result.GetValue(model)!.FullName;
            try
            {
                var request = new CompressionRequest
                {
                    ModelPath = modelPath,
                    OutputPath = result.GetValue(output)!.FullName,
                    ValidationDataPath = result.GetValue(validation)?.FullName,
                    CalibrationDataPath = result.GetValue(calibration)?.FullName,
                    Budgets = new Budgets(
                        Quantity.ParsePercent(result.GetValue(maxDrop)!, "MaxAccuracyDrop", modelPath),
                        result.GetValue(maxSize) is { Length: > 0 } size ? Quantity.ParseSize(size, "MaxSize", modelPath) : null,
                        result.GetValue(maxLatency) is { Length: > 0 } latency ? Quantity.ParseDuration(latency, "MaxLatency", modelPath) : null),
                    Metric = result.GetValue(metric) is { Length: > 0 } m ? MetricKinds.Parse(m, modelPath) : null,
                    Techniques = Techniques.Parse(result.GetValue(techniques), modelPath),
                    SignaturePath = result.GetValue(signature)?.FullName,
                    ClassName = result.GetValue(className)!,
                    Namespace = result.GetValue(ns)!,
                    ModelRelativePath = result.GetValue(relativePath) ?? Path.GetFileName(modelPath),
                    ReportDirectory = result.GetValue(reportDir)?.FullName,
                    LockPath = result.GetValue(lockPath)?.FullName,
                    LockedMode = result.GetValue(locked),
                    MaxSearchTime = result.GetValue(maxSearch) is { Length: > 0 } t
                        ? Quantity.ParseDuration(t, "ModelCompressionMaxSearchTime", modelPath)
                        : CompressionRequest.DefaultMaxSearchTime,
                };
                new Compressor(log).Run(request);
            }
            catch (CompressionException e)
            {
                log.Report(Diagnostic.From(e));
            }
            catch (Exception e)
            {
                // A bug, not a user error: one coded line for the build, the details for the report.
                log.Report(Diagnostic.Error(DiagnosticCode.InternalError, modelPath,
                    $"Internal error while compressing: {e.GetType().Name}: {e.Message}. Please report it with the detailed build log."));
                log.Detail(e.ToString());
            }
            return log.HasErrors ? 1 : 0;
        });
        return command;
    }

    /// <summary>
    /// <c>signature</c>: only the sidecar of the model as it is, for builds with
    /// ModelCompressionEnabled=false (the app ships the original model and still gets its wrapper).
    /// </summary>
    private static Command SignatureCommand()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model." };
        var signature = new Option<FileInfo>("--signature") { Description = "Write the signature sidecar here.", Required = true };
        var className = new Option<string>("--class-name") { Description = "The wrapper's class name.", DefaultValueFactory = _ => "" };
        var ns = new Option<string>("--namespace") { Description = "The wrapper's namespace.", DefaultValueFactory = _ => "" };
        var relativePath = new Option<string?>("--model-relative-path") { Description = "The model's path relative to the app directory." };

        var command = new Command("signature", "Write the signature sidecar of a model without compressing it.")
        {
            model, signature, className, ns, relativePath,
        };
        command.SetAction(result =>
        {
            var log = new ConsoleLog();
            var modelPath = result.GetValue(model)!.FullName;
            try
            {
                var proto = OnnxModelFile.Load(modelPath);
                var (inputs, outputs) = SignatureResolver.Resolve(proto, sample: null, modelPath);
                var content = new SidecarContent(result.GetValue(className)!, result.GetValue(ns)!,
                    result.GetValue(relativePath) ?? Path.GetFileName(modelPath), inputs, outputs);
                AtomicFile.WriteAllText(result.GetValue(signature)!.FullName, SignatureSidecar.Write(content));
            }
            catch (CompressionException e)
            {
                log.Report(Diagnostic.From(e));
            }
            catch (Exception e)
            {
                log.Report(Diagnostic.Error(DiagnosticCode.InternalError, modelPath,
                    $"Internal error while reading the signature: {e.GetType().Name}: {e.Message}. Please report it with the detailed build log."));
                log.Detail(e.ToString());
            }
            return log.HasErrors ? 1 : 0;
        });
        return command;
    }
}
