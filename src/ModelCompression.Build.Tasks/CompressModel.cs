using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace ModelCompression.Build.Tasks;

/// <summary>
/// Compresses one resolved <c>CompressedModel</c> item by launching the worker out of process
/// (<c>dotnet exec ModelCompression.Cli.dll compress ...</c>) and turning its output into build
/// events. It never loads ONNX Runtime or the worker's assemblies: MSBuild nodes are long-lived and
/// shared, the worker's natives and dependency versions must not leak into them.
/// </summary>
public sealed class CompressModel : ToolTask
{
    private const string DetailPrefix = "detail: ";
    private const int TailLines = 5;
    private readonly Queue<string> _tail = new();

    // A search can take minutes: let MSBuild build other projects on this node meanwhile.
    public CompressModel() => YieldDuringToolExecution = true;

    /// <summary>An item from <see cref="ResolveCompressedModels"/>, with its outputs and settings as metadata.</summary>
    [Required]
    public ITaskItem Model { get; set; } = null!;

    /// <summary>The worker, ModelCompression.Cli.dll.</summary>
    [Required]
    public string WorkerPath { get; set; } = "";

    /// <summary>
    /// NuGet package folders, given to the host as <c>--additionalprobingpath</c>: the package ships
    /// no ONNX Runtime natives, the host finds them in the restored Microsoft.ML.OnnxRuntime package.
    /// </summary>
    public ITaskItem[] ProbingPaths { get; set; } = [];

    public bool LockedMode { get; set; }

    public string? MaxSearchTime { get; set; }

    /// <summary>
    /// The distillation plugin, ModelCompression.Distillation.dll (<c>$(ModelCompressionDistillationPlugin)</c>, set by the
    /// ModelCompression.Build.Distillation package); empty without the package. The worker loads it only when it distils.
    /// </summary>
    public string? DistillationPlugin { get; set; }

    /// <summary>libtorch's and TorchSharp's native folders, ';'-separated (<c>$(ModelCompressionTorchNativeDirectories)</c>).</summary>
    public string? TorchNativeDirectories { get; set; }

    /// <summary>Only write the signature sidecar of the model as it is (ModelCompressionEnabled=false).</summary>
    public bool SignatureOnly { get; set; }

    protected override string ToolName => Path.DirectorySeparatorChar == '\\' ? "dotnet.exe" : "dotnet";

    // Progress and the result table belong in the normal build output; a crash's stack trace (stderr) does not.
    protected override MessageImportance StandardOutputLoggingImportance => MessageImportance.High;

    protected override MessageImportance StandardErrorLoggingImportance => MessageImportance.Low;

    private string RelativePath => Model.GetMetadata("AppRelativePath");

    public override bool Execute()
    {
        Log.LogMessage(MessageImportance.High, SignatureOnly
            ? $"ModelCompression: {RelativePath}: compression disabled (ModelCompressionEnabled=false), writing its signature only"
            : $"ModelCompression: compressing {RelativePath}");
        return base.Execute() && CheckOutputs() && !Log.HasLoggedErrors;
    }

    /// <summary>The host that runs the SDK (set by the dotnet CLI for MSBuild), else dotnet from PATH.</summary>
    protected override string GenerateFullPathToTool()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return !string.IsNullOrEmpty(host) && File.Exists(host) ? host! : ToolExe;
    }

    protected override bool ValidateParameters()
    {
        if (!File.Exists(WorkerPath))
        {
            LogWorkerError($"The compression worker '{WorkerPath}' does not exist, so the ModelCompression.Build package is incomplete. Delete its folder from the NuGet package cache and restore again.");
            return false;
        }
        return base.ValidateParameters();
    }

    protected override string GenerateCommandLineCommands()
    {
        var command = new CommandLineBuilder();
        command.AppendSwitch("exec");
        foreach (var folder in ProbingPaths)
            command.AppendSwitchIfNotNull("--additionalprobingpath ", TrimSeparator(folder.ItemSpec));
        command.AppendFileNameIfNotNull(WorkerPath);
        command.AppendSwitch(SignatureOnly ? "signature" : "compress");
        command.AppendFileNameIfNotNull(Model.ItemSpec);
        if (!SignatureOnly)
        {
            command.AppendSwitchIfNotNull("--output ", Model.GetMetadata("OutputModel"));
            AppendIfSet(command, "--calibration-data ", "CalibrationDataFullPath");
            AppendIfSet(command, "--training-data ", "TrainingDataFullPath");
            AppendIfSet(command, "--max-accuracy-drop ", "MaxAccuracyDrop");
            AppendIfSet(command, "--max-size ", "MaxSize");
            AppendIfSet(command, "--max-latency ", "MaxLatency");
            AppendIfSet(command, "--metric ", "Metric");
            AppendIfSet(command, "--techniques ", "Techniques");
            command.AppendSwitchIfNotNull("--report-dir ", Model.GetMetadata("ReportDirectory"));
            command.AppendSwitchIfNotNull("--lock ", Model.GetMetadata("LockFile"));
            command.AppendSwitchIfNotNull("--lock-stamp ", Model.GetMetadata("LockStamp"));
            AppendIfSet(command, "--statistics-cache ", "StatisticsCache");
            if (LockedMode) command.AppendSwitch("--locked-mode");
            if (!string.IsNullOrWhiteSpace(MaxSearchTime)) command.AppendSwitchIfNotNull("--max-search-time ", MaxSearchTime!.Trim());
            if (!string.IsNullOrWhiteSpace(DistillationPlugin))
            {
                command.AppendSwitchIfNotNull("--distillation-plugin ", DistillationPlugin!.Trim());
                var natives = (TorchNativeDirectories ?? "").Split([';'], StringSplitOptions.RemoveEmptyEntries)
                    .Select(d => TrimSeparator(d.Trim())).Where(d => d.Length > 0).ToArray();
                if (natives.Length > 0) command.AppendSwitchIfNotNull("--torch-native-directories ", string.Join(";", natives));
            }
        }
        // The first validation sample fixes the wrapper's shapes (also for the signature alone).
        AppendIfSet(command, "--validation-data ", "ValidationDataFullPath");
        command.AppendSwitchIfNotNull("--signature ", Model.GetMetadata("Signature"));
        command.AppendSwitchIfNotNull("--class-name ", Model.GetMetadata("ClassName"));
        AppendIfSet(command, "--namespace ", "Namespace");
        command.AppendSwitchIfNotNull("--model-relative-path ", RelativePath);
        return command.ToString();
    }

    // The full command line is for detailed logs, not for every build's output.
    protected override void LogToolCommand(string message) => Log.LogCommandLine(MessageImportance.Normal, message);

    protected override void LogEventsFromTextOutput(string singleLine, MessageImportance messageImportance)
    {
        if (singleLine.Trim().Length > 0)
        {
            if (_tail.Count == TailLines) _tail.Dequeue();
            _tail.Enqueue(singleLine.Trim());
        }

        if (singleLine.StartsWith(DetailPrefix, StringComparison.Ordinal))
            Log.LogMessage(MessageImportance.Low, singleLine.Substring(DetailPrefix.Length));
        else
            Log.LogMessageFromText(singleLine, messageImportance); // canonical lines become MCnnnn errors and warnings
    }

    protected override bool HandleTaskExecutionErrors()
    {
        // The worker reports its own failures as MCnnnn errors; a non-zero exit without one is a crash.
        if (Log.HasLoggedErrors) return base.HandleTaskExecutionErrors();
        // One line: a multi-line error shows as one error per line in the console.
        var tail = _tail.Count == 0 ? "(none)" : string.Join(" | ", _tail);
        LogWorkerError($"The compression worker exited with code {ExitCode} without reporting an error. Its last output: {tail}");
        return false;
    }

    /// <summary>A worker that says it succeeded must have written its outputs; catch it here rather than as a copy error later.</summary>
    private bool CheckOutputs()
    {
        if (Log.HasLoggedErrors) return false;
        var expected = SignatureOnly ? ["Signature"] : new[] { "OutputModel", "Signature" };
        foreach (var missing in expected.Select(Model.GetMetadata).Where(path => !File.Exists(path)))
        {
            LogWorkerError($"The compression worker reported success but did not write '{missing}'. Please report it with the detailed build log (-v:d).");
            return false;
        }
        return true;
    }

    private void AppendIfSet(CommandLineBuilder command, string option, string metadata)
    {
        var value = Model.GetMetadata(metadata).Trim();
        if (value.Length > 0) command.AppendSwitchIfNotNull(option, value);
    }

    // A quoted Windows path that ends in '\' would escape its closing quote.
    private static string TrimSeparator(string path) =>
        path.Length > 1 ? path.TrimEnd('/', '\\') : path;

    private void LogWorkerError(string message) =>
        Log.LogError(null, "MC9002", null, Model.ItemSpec, 0, 0, 0, 0, message);
}
