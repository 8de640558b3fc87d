using System.Reflection;
using System.Runtime.Loader;

namespace ModelCompression.Cli.Distillation;

/// <summary>
/// The distillation plugin's load context. Assemblies the worker shares with the plugin always come from the worker
/// (the default context), so that types such as <c>IDistiller</c> and <c>ModelProto</c> are the same on both sides; any
/// other assembly found in the plugin's folder (TorchSharp.dll) loads here; the rest falls back to the default context
/// (the framework). Native libraries resolve to the handles the plugin preloaded.
/// </summary>
internal sealed class DistillationLoadContext(string pluginPath) : AssemblyLoadContext("ModelCompression.Distillation")
{
    /// <summary>The worker's assemblies that the plugin's public contract uses.</summary>
    internal static readonly IReadOnlySet<string> Shared = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "ModelCompression.Core", "Google.Protobuf", "Microsoft.ML.OnnxRuntime", "MathNet.Numerics",
    };

    private readonly string _directory = Path.GetDirectoryName(pluginPath)!;

    /// <summary>Set once the plugin preloaded them: by file name, stem and stem without "lib" ("LibTorchSharp", "torch_cpu").</summary>
    public IReadOnlyDictionary<string, IntPtr> NativeLibraries { get; set; } = new Dictionary<string, IntPtr>();

    protected override Assembly? Load(AssemblyName name)
    {
        if (name.Name is null || Shared.Contains(name.Name)) return null;
        var candidate = Path.Combine(_directory, name.Name + ".dll");
        return File.Exists(candidate) ? LoadFromAssemblyPath(candidate) : null;
    }

    /// <summary>The names this context bound to a preloaded library, in order (for the check command and tests).</summary>
    public IReadOnlyCollection<string> Bound
    {
        get { lock (_bound) return _bound.ToList(); }
    }

    private readonly List<string> _bound = [];

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        foreach (var name in Candidates(unmanagedDllName))
        {
            if (!NativeLibraries.TryGetValue(name, out var handle)) continue;
            lock (_bound) if (!_bound.Contains(unmanagedDllName)) _bound.Add(unmanagedDllName);
            return handle;
        }
        // Not one of libtorch's: the default search (e.g. the C library for TorchSharp's own helpers).
        return IntPtr.Zero;
    }

    private static IEnumerable<string> Candidates(string name)
    {
        yield return name;
        var file = Path.GetFileName(name);
        yield return file;
        var stem = file.EndsWith(".so", StringComparison.Ordinal) ? file[..^3] : file;
        yield return stem;
        if (stem.StartsWith("lib", StringComparison.Ordinal)) yield return stem[3..];
    }
}
