using System.Diagnostics;
using System.CommandLine;
using ModelCompression.Cli.Distillation;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;

namespace ModelCompression.Cli;

/// <summary>
/// The worker's command line: <c>compress</c> does one CompressedModel item; <c>signature</c> only
/// writes the wrapper's sidecar (ModelCompressionEnabled=false: the app ships the original model).
/// </summary>
public static class CommandLine
{
    /// <summary>The worker's commands; the distillation plugin is loaded only if the compressor distils.</summary>
    public static RootCommand Build() =>
        Build(Console.Out, (request, log) => new Compressor(log, DistillationPlugin.FactoryFor(request)).Run(request));

    /// <param name="output">Where the commands write their log.</param>
    /// <param name="compress">What <c>compress</c> does with the request it read (tests capture it).</param>
    internal static RootCommand Build(TextWriter output, Action<CompressionRequest, ICompressionLog> compress)
    {
        var root = new RootCommand("ModelCompression.Build worker: compresses ONNX models within accuracy, size and latency budgets.");
        root.Subcommands.Add(CompressCommand(output, compress));
        root.Subcommands.Add(SignatureCommand(output));
        root.Subcommands.Add(DistillationCheckCommand(output));
        return root;
    }

    private static Command CompressCommand(TextWriter console, Action<CompressionRequest, ICompressionLog> compress)
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model to compress." };
        var output = new Option<FileInfo>("--output") { Description = "Where to write the compressed model.", Required = true };
        var calibration = new Option<FileInfo?>("--calibration-data") { Description = "The .npz for calibration (default: the validation data)." };
        var maxDrop = new Option<string>("--max-accuracy-drop") { Description = "Allowed drop of the metric, e.g. 1%.", DefaultValueFactory = _ => "1%" };
        var maxSize = new Option<string?>("--max-size") { Description = "Largest allowed compressed file, e.g. 400KB." };
        var maxLatency = new Option<string?>("--max-latency") { Description = "Largest allowed median batch-1 latency, e.g. 2ms." };
        var metric = new Option<string?>("--metric") { Description = "accuracy, agreement, cosine or mse." };
        var techniques = new Option<string?>("--techniques") { Description = "Techniques the search may use, e.g. fusion;int8." };
        var reportDir = new Option<DirectoryInfo?>("--report-dir") { Description = "Write the Markdown, JSON and SVG report here." };
        var lockPath = new Option<FileInfo?>("--lock") { Description = "The plan lock (default: <model>.compression.lock.json)." };
        var lockStamp = new Option<FileInfo?>("--lock-stamp") { Description = "Record here which locked plan made the output (for incremental builds)." };
        var locked = new Option<bool>("--locked-mode") { Description = "Fail on a missing or stale plan lock instead of searching." };
        var maxSearch = new Option<string?>("--max-search-time") { Description = "A safety net: stop the search after this long, e.g. 30m (counts bound it)." };
        var statisticsCache = new Option<DirectoryInfo?>("--statistics-cache") { Description = "Keep layer statistics here, by content hash, for later searches and locked rebuilds." };
        var training = new Option<FileInfo?>("--training-data") { Description = "The .npz distillation trains on (default: the calibration data when it is not the validation data); never the validation data." };
        var plugin = new DistillationOptions();
        var common = new CommonOptions(signatureRequired: false);

        var command = new Command("compress", "Compress one model within its budgets.")
        {
            model, output, calibration, maxDrop, maxSize, maxLatency, metric, techniques, reportDir, lockPath, lockStamp, locked, maxSearch, statisticsCache,
            training,
        };
        common.AddTo(command);
        plugin.AddTo(command);
        command.SetAction(result => Guarded(console, result.GetValue(model)!.FullName, "compressing", (modelPath, log) =>
        {
            var request = common.Read(result, modelPath) with
            {
                OutputPath = result.GetValue(output)!.FullName,
                CalibrationDataPath = result.GetValue(calibration)?.FullName,
                TrainingDataPath = result.GetValue(training)?.FullName,
                DistillationPluginPath = plugin.PluginPath(result),
                TorchNativeDirectories = plugin.NativeDirectories(result),
                Budgets = new Budgets(
                    Quantity.ParsePercent(result.GetValue(maxDrop)!, "MaxAccuracyDrop", modelPath),
                    result.GetValue(maxSize) is { Length: > 0 } size ? Quantity.ParseSize(size, "MaxSize", modelPath) : null,
                    result.GetValue(maxLatency) is { Length: > 0 } latency ? Quantity.ParseDuration(latency, "MaxLatency", modelPath) : null),
                Metric = result.GetValue(metric) is { Length: > 0 } m ? MetricKinds.Parse(m, modelPath) : null,
                Techniques = Techniques.Parse(result.GetValue(techniques), modelPath),
                ReportDirectory = result.GetValue(reportDir)?.FullName,
                LockPath = result.GetValue(lockPath)?.FullName,
                LockStampPath = result.GetValue(lockStamp)?.FullName,
                LockedMode = result.GetValue(locked),
                StatisticsCacheDirectory = result.GetValue(statisticsCache)?.FullName,
                MaxSearchTime = result.GetValue(maxSearch) is { Length: > 0 } t
                    ? Quantity.ParseDuration(t, "ModelCompressionMaxSearchTime", modelPath)
                    : CompressionRequest.DefaultMaxSearchTime,
            };
            if (DistillationSettings.MissingPackageWarning(request, result.GetValue(techniques)) is { } warning) log.Report(warning);
            DistillationSettings.CheckTrainingData(request);
            compress(request, log);
        }));
        return command;
    }

    private static Command SignatureCommand(TextWriter console)
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model." };
        var common = new CommonOptions(signatureRequired: true);
        var command = new Command("signature", "Write the signature sidecar of a model without compressing it.") { model };
        common.AddTo(command);
        command.SetAction(result => Guarded(console, result.GetValue(model)!.FullName, "reading the signature",
            (modelPath, log) => new Compressor(log).WriteSignatureOnly(common.Read(result, modelPath))));
        return command;
    }

    /// <summary>
    /// Loads the distillation plugin and runs one tensor operation through it, as a distilling build would: tells whether
    /// distillation works on this machine. Not used by the build.
    /// </summary>
    private static Command DistillationCheckCommand(TextWriter console)
    {
        var plugin = new DistillationOptions();
        var command = new Command("distillation-check", "Load the distillation plugin and libtorch, and run one tensor operation.");
        plugin.AddTo(command);
        command.SetAction(result =>
        {
            if (plugin.PluginPath(result) is not { } path)
            {
                console.WriteLine($"Distillation is unavailable: --distillation-plugin is not set (the {DistillationSettings.PackageId} package sets it for a build)");
                return 1;
            }
            try
            {
                var loaded = DistillationPlugin.Load(path, plugin.NativeDirectories(result));
                console.WriteLine($"distillation plugin: {loaded.Assembly.Location}");
                console.WriteLine($"native libraries: {string.Join(", ", loaded.NativeLibraries.Keys.Where(k => k.EndsWith(".so", StringComparison.Ordinal)).Order(StringComparer.Ordinal))}");
                console.WriteLine(loaded.SelfCheck());
                console.WriteLine($"bound by the plugin's load context: {string.Join(", ", loaded.BoundNativeNames)}");
                return 0;
            }
            catch (DistillationPluginException e)
            {
                console.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>Runs one command's work: user errors become their MCnnnn line, anything else MC9001; never a stack trace on the build's error list.</summary>
    private static int Guarded(TextWriter console, string modelPath, string activity, Action<string, ConsoleLog> work)
    {
        var log = new ConsoleLog(console);
        try
        {
            work(modelPath, log);
        }
        catch (CompressionException e)
        {
            log.Report(Diagnostic.From(e));
            // What caused it in full (e.g. ONNX Runtime's own message), for the detailed log.
            if (e.InnerException is { } cause) log.Detail(cause.Message);
        }
        catch (Exception e)
        {
            // A bug, not a user error: one coded line for the build, the details at detailed verbosity.
            log.Report(Diagnostic.Error(DiagnosticCode.InternalError, modelPath,
                $"Internal error while {activity}: {e.GetType().Name}: {e.Message}. Please report it with the detailed build log."));
            log.Detail(e.ToString());
        }
        // The memory a build machine needs for this model and data (see README, "Memory").
        log.Detail($"peak memory {Process.GetCurrentProcess().PeakWorkingSet64 >> 20} MB");
        return log.HasErrors ? 1 : 0;
    }

    /// <summary>Where the distillation plugin and its native libraries are (set by the ModelCompression.Build.Distillation package).</summary>
    private sealed class DistillationOptions
    {
        private readonly Option<FileInfo?> _plugin = new("--distillation-plugin") { Description = "ModelCompression.Distillation.dll; loaded only when the search distils." };
        private readonly Option<string?> _natives = new("--torch-native-directories") { Description = "Folders with libtorch's and TorchSharp's native libraries, separated by ';'." };

        public void AddTo(Command command)
        {
            command.Options.Add(_plugin);
            command.Options.Add(_natives);
        }

        public string? PluginPath(ParseResult result) => result.GetValue(_plugin)?.FullName;

        public IReadOnlyList<string> NativeDirectories(ParseResult result) =>
            (result.GetValue(_natives) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Path.GetFullPath).ToList();
    }

    /// <summary>The options both commands take: the validation data and what the wrapper's sidecar needs.</summary>
    private sealed class CommonOptions(bool signatureRequired)
    {
        private readonly Option<FileInfo?> _validation = new("--validation-data") { Description = "The .npz whose samples measure the metric (its first sample fixes the wrapper's shapes)." };
        private readonly Option<FileInfo?> _signature = new("--signature") { Description = "Write the signature sidecar for the wrapper generator here.", Required = signatureRequired };
        private readonly Option<string> _className = new("--class-name") { Description = "The wrapper's class name (for the sidecar).", DefaultValueFactory = _ => "" };
        private readonly Option<string> _namespace = new("--namespace") { Description = "The wrapper's namespace (for the sidecar).", DefaultValueFactory = _ => "" };
        private readonly Option<string?> _relativePath = new("--model-relative-path") { Description = "The model's path relative to the app directory." };

        public void AddTo(Command command)
        {
            command.Options.Add(_validation);
            command.Options.Add(_signature);
            command.Options.Add(_className);
            command.Options.Add(_namespace);
            command.Options.Add(_relativePath);
        }

        public CompressionRequest Read(ParseResult result, string modelPath) => new()
        {
            ModelPath = modelPath,
            OutputPath = modelPath,
            ValidationDataPath = result.GetValue(_validation)?.FullName,
            SignaturePath = result.GetValue(_signature)?.FullName,
            ClassName = result.GetValue(_className)!,
            Namespace = result.GetValue(_namespace)!,
            ModelRelativePath = result.GetValue(_relativePath) ?? Path.GetFileName(modelPath),
        };
    }
}
