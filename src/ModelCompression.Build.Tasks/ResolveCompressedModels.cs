using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

namespace ModelCompression.Build.Tasks;

/// <summary>
/// Turns <c>CompressedModel</c> items into everything the targets need per model: the path it has
/// in the app, the defaulted class name, full paths of its data, its outputs under
/// <c>$(IntermediateOutputPath)ModelCompression/</c>, its plan lock, and one line of settings
/// (the content of the per-item stamp that makes a metadata change re-run compression), and the
/// wrapper's metadata the generator reads (<c>ModelCompression*</c>: batch size, free-dimension sizes,
/// embedded resource name, labels file), which are not settings: changing them never recompresses.
/// Cheap and side-effect free, so it also runs in design-time builds.
/// </summary>
public sealed class ResolveCompressedModels : Microsoft.Build.Utilities.Task
{
    [Required]
    public ITaskItem[] Models { get; set; } = [];

    [Required]
    public string ProjectDirectory { get; set; } = "";

    /// <summary>Where the outputs go, usually <c>$(IntermediateOutputPath)ModelCompression</c>.</summary>
    [Required]
    public string OutputDirectory { get; set; } = "";

    [Output]
    public ITaskItem[] ResolvedModels { get; private set; } = [];

    public override bool Execute()
    {
        var outputDirectory = Path.GetFullPath(Path.Combine(ProjectDirectory, OutputDirectory));
        var resolved = new List<ITaskItem>();
        var byRelativePath = new Dictionary<string, ITaskItem>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in Models)
        {
            var fullPath = model.GetMetadata("FullPath");
            var relativePath = RelativePath(model, fullPath);
            if (byRelativePath.TryGetValue(relativePath, out var other))
            {
                Log.LogError(null, "MC3001", null, fullPath, 0, 0, 0, 0,
                    $"The CompressedModel items '{other.ItemSpec}' and '{model.ItemSpec}' would both be written to '{relativePath}' in the output directory. Set Link=\"...\" on one of them to give it another path.");
                continue;
            }
            byRelativePath.Add(relativePath, model);
            var item = Resolve(model, fullPath, relativePath, outputDirectory);
            if (ResolveWrapperMetadata(model, item)) resolved.Add(item);
        }
        ResolvedModels = resolved.ToArray();
        return !Log.HasLoggedErrors;
    }

    private ITaskItem Resolve(ITaskItem model, string fullPath, string relativePath, string outputDirectory)
    {
        var item = new TaskItem(fullPath, model.CloneCustomMetadata());
        var className = Metadata(model, "ClassName") ?? ClassNames.FromFileName(Path.GetFileNameWithoutExtension(relativePath));
        var outputBase = Path.Combine(outputDirectory, relativePath);
        var lockFile = Path.Combine(Path.GetDirectoryName(fullPath)!, Path.GetFileNameWithoutExtension(fullPath) + ".compression.lock.json");

        item.SetMetadata("RelativePath", relativePath);
        item.SetMetadata("TargetPath", relativePath); // what ContentWithTargetPath copies to the output directory
        item.SetMetadata("AppRelativePath", relativePath.Replace('\\', '/'));
        item.SetMetadata("ClassName", className);
        item.SetMetadata("Namespace", Metadata(model, "Namespace") ?? "");
        item.SetMetadata("ValidationDataFullPath", FullPathOf(Metadata(model, "ValidationData")));
        item.SetMetadata("CalibrationDataFullPath", FullPathOf(Metadata(model, "CalibrationData")));
        // Only when set: the worker defaults it (to separate CalibrationData, never to ValidationData).
        item.SetMetadata("TrainingDataFullPath", FullPathOf(Metadata(model, "TrainingData")));
        item.SetMetadata("OutputModel", outputBase);
        item.SetMetadata("Signature", outputBase + ".mcsig");
        item.SetMetadata("ReportDirectory", outputBase + ".report");
        item.SetMetadata("SettingsFile", outputBase + ".settings");
        item.SetMetadata("LockFile", lockFile);
        item.SetMetadata("LockStamp", outputBase + ".lockstamp");
        // Layer statistics by content hash: shared by every model of the project, kept by clean (not a FileWrite).
        item.SetMetadata("StatisticsCache", Path.Combine(OutputDirectory, "statistics"));
        item.SetMetadata("LockState", LockState.Of(lockFile, outputBase + ".lockstamp"));
        item.SetMetadata("Settings", string.Join("|",
            "model=" + fullPath,
            "path=" + relativePath,
            "class=" + className,
            "namespace=" + item.GetMetadata("Namespace"),
            "validation=" + item.GetMetadata("ValidationDataFullPath"),
            "calibration=" + item.GetMetadata("CalibrationDataFullPath"),
            "training=" + item.GetMetadata("TrainingDataFullPath"),
            "max-accuracy-drop=" + model.GetMetadata("MaxAccuracyDrop"),
            "max-size=" + model.GetMetadata("MaxSize"),
            "max-latency=" + model.GetMetadata("MaxLatency"),
            "metric=" + model.GetMetadata("Metric"),
            "techniques=" + model.GetMetadata("Techniques"),
            "lock=" + lockFile));
        return item;
    }

    /// <summary>
    /// The compiler-visible metadata of the wrapper (names fixed with the generator, which validates the values it
    /// parses). Checked here: what the generator cannot see, a labels file that does not exist and an Embed that is
    /// neither true nor false.
    /// </summary>
    private bool ResolveWrapperMetadata(ITaskItem model, ITaskItem item)
    {
        item.SetMetadata("ModelCompressionMaxBatchSize", Metadata(model, "MaxBatchSize") ?? "");
        item.SetMetadata("ModelCompressionMaxSizes", Metadata(model, "MaxSizes") ?? "");

        var embed = Metadata(model, "Embed") ?? "false";
        if (!bool.TryParse(embed, out var embedded))
        {
            Log.LogError(null, "MC3001", null, item.ItemSpec, 0, 0, 0, 0,
                $"The CompressedModel item '{model.ItemSpec}' has Embed=\"{embed}\", which is neither true nor false. Set Embed=\"true\" to embed the model in the assembly, or remove it to ship the model as a file.");
            return false;
        }
        var className = item.GetMetadata("ClassName");
        var classFullName = Metadata(item, "Namespace") is { } ns ? ns + "." + className : className;
        item.SetMetadata("ModelCompressionEmbeddedResource", embedded ? $"ModelCompression.{classFullName}.onnx" : "");

        var labels = FullPathOf(Metadata(model, "Labels"));
        if (labels.Length > 0 && !File.Exists(labels))
        {
            Log.LogError(null, "MC3002", null, item.ItemSpec, 0, 0, 0, 0,
                $"The labels file '{labels}' of the CompressedModel item '{model.ItemSpec}' does not exist. Labels=\"...\" names a text file with one class name per line, relative to the project; create it or correct the path.");
            return false;
        }
        item.SetMetadata("ModelCompressionLabels", labels);
        return true;
    }

    /// <summary>
    /// The model's path in the app: its Link when set, else its path inside the project; a file
    /// outside the project without a Link keeps just its name (as Content items do).
    /// </summary>
    private string RelativePath(ITaskItem model, string fullPath)
    {
        var link = Metadata(model, "Link");
        if (link is not null) return Normalize(link);
        var projectDirectory = Path.GetFullPath(ProjectDirectory).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return fullPath.StartsWith(projectDirectory, StringComparison.OrdinalIgnoreCase)
            ? fullPath.Substring(projectDirectory.Length)
            : Path.GetFileName(fullPath);
    }

    private static string Normalize(string path)
    {
        var parts = path.Split(['/', '\\'], StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");
        return string.Join(Path.DirectorySeparatorChar.ToString(), parts);
    }

    // Metadata is not normalised by MSBuild: accept either separator, as item specs are.
    private string FullPathOf(string? path) =>
        path is null ? "" : Path.GetFullPath(Path.Combine(ProjectDirectory, path.Replace('\\', '/')));

    private static string? Metadata(ITaskItem item, string name)
    {
        var value = item.GetMetadata(name).Trim();
        return value.Length == 0 ? null : value;
    }
}
