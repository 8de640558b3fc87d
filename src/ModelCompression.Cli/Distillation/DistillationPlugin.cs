using System.Reflection;
using System.Runtime.Loader;
using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;

namespace ModelCompression.Cli.Distillation;

/// <summary>
/// The distillation plugin (ModelCompression.Distillation.dll of the ModelCompression.Build.Distillation package), loaded in
/// its own <see cref="AssemblyLoadContext"/> only when the worker distils. It shares ModelCompression.Core, Google.Protobuf and
/// ONNX Runtime with the worker (so <see cref="IDistiller"/> is the worker's type), loads TorchSharp.dll from its own folder,
/// and binds TorchSharp's <c>DllImport("LibTorchSharp")</c> and libtorch's names to the libraries the plugin's
/// <c>PluginEntry.LoadNativeLibraries</c> (TorchRuntime) preloaded: the patched copy of the binding library that runs here.
/// </summary>
public sealed class DistillationPlugin
{
    /// <summary>The plugin's entry type: <c>LoadNativeLibraries(IReadOnlyList&lt;string&gt;, string?)</c> and <c>SelfCheck()</c>.</summary>
    public const string EntryTypeName = "ModelCompression.Distillation.PluginEntry";

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, DistillationPlugin> Loaded = new(StringComparer.Ordinal);

    private readonly Type _entry;
    private readonly DistillationLoadContext _context;

    private DistillationPlugin(Assembly assembly, Type entry, DistillationLoadContext context, IReadOnlyDictionary<string, IntPtr> nativeLibraries)
    {
        Assembly = assembly;
        _entry = entry;
        _context = context;
        NativeLibraries = nativeLibraries;
    }

    /// <summary>
    /// What the compressor calls the first time a plan distils: loads the plugin and makes its distiller. Null when
    /// <paramref name="request"/> cannot distil (no plugin, no training data, or Techniques without distill): then nothing
    /// of the plugin is ever loaded.
    /// </summary>
    public static Func<IDistiller>? FactoryFor(CompressionRequest request) =>
        request.CanDistill && request.DistillationPluginPath is { } plugin
            ? () => Load(plugin, request.TorchNativeDirectories).CreateDistiller()
            : null;

    /// <summary>The plugin assembly, in its own load context.</summary>
    public Assembly Assembly { get; }

    /// <summary>The native libraries the plugin preloaded, by every name a <c>DllImport</c> may ask for.</summary>
    public IReadOnlyDictionary<string, IntPtr> NativeLibraries { get; }

    /// <summary>The library names the plugin's <c>DllImport</c>s asked for that its load context bound to a preloaded library ("LibTorchSharp").</summary>
    public IReadOnlyCollection<string> BoundNativeNames => _context.Bound;

    /// <summary>
    /// Loads the plugin and its native libraries, once per process and plugin path. Nothing of it is loaded before this is
    /// called: the worker calls it only when the plan distils.
    /// </summary>
    /// <param name="pluginPath">ModelCompression.Distillation.dll; TorchSharp.dll lies beside it.</param>
    /// <param name="nativeDirectories">The folders with libtorch's libraries and libLibTorchSharp.so.</param>
    /// <param name="cacheDirectory">Where the patched copy of the binding library is kept; null for the per-user default.</param>
    /// <exception cref="DistillationPluginException">The plugin or a native library is missing or does not load; the message says which and what to do.</exception>
    public static DistillationPlugin Load(string pluginPath, IReadOnlyList<string> nativeDirectories, string? cacheDirectory = null)
    {
        var fullPath = Path.GetFullPath(pluginPath);
        lock (Gate)
        {
            if (Loaded.TryGetValue(fullPath, out var plugin)) return plugin;
            if (!File.Exists(fullPath))
                throw new DistillationPluginException($"The distillation plugin '{fullPath}' does not exist, so the ModelCompression.Build.Distillation package is incomplete. Delete its folder from the NuGet package cache and restore again.");
            var context = new DistillationLoadContext(fullPath);
            Assembly assembly;
            try
            {
                assembly = context.LoadFromAssemblyPath(fullPath);
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException)
            {
                throw new DistillationPluginException($"The distillation plugin '{fullPath}' cannot be loaded: {e.Message}", e);
            }
            var entry = assembly.GetType(EntryTypeName)
                ?? throw new DistillationPluginException($"'{fullPath}' is not a distillation plugin: it has no {EntryTypeName}. Use the ModelCompression.Build.Distillation package of the same version as ModelCompression.Build.");
            var natives = (IReadOnlyDictionary<string, IntPtr>)Invoke(entry, "LoadNativeLibraries", fullPath, nativeDirectories, cacheDirectory)!;
            context.NativeLibraries = natives;
            return Loaded[fullPath] = new DistillationPlugin(assembly, entry, context, natives);
        }
    }

    /// <summary>The plugin's <see cref="IDistiller"/>: its one public, concrete implementation, made with its parameterless constructor.</summary>
    /// <exception cref="DistillationPluginException">The plugin has no such type, or more than one.</exception>
    public IDistiller CreateDistiller()
    {
        var types = Assembly.GetExportedTypes().Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IDistiller).IsAssignableFrom(t)).ToList();
        if (types.Count != 1)
            throw new DistillationPluginException(types.Count == 0
                ? $"The distillation plugin '{Assembly.Location}' has no public class implementing {nameof(IDistiller)} of this worker's ModelCompression.Core ({typeof(IDistiller).Assembly.GetName().Version}). Use the ModelCompression.Build.Distillation package of the same version as ModelCompression.Build."
                : $"The distillation plugin '{Assembly.Location}' has {types.Count} classes implementing {nameof(IDistiller)} ({string.Join(", ", types.Select(t => t.FullName))}); it must have one.");
        try
        {
            return (IDistiller)Activator.CreateInstance(types[0])!;
        }
        catch (Exception e) when (e is MissingMethodException or TargetInvocationException)
        {
            throw new DistillationPluginException($"The distillation plugin's {types[0].FullName} cannot be created: {(e.InnerException ?? e).Message}", e);
        }
    }

    /// <summary>Runs one small tensor computation in the plugin (libtorch through TorchSharp) and returns its description.</summary>
    /// <exception cref="DistillationPluginException">libtorch fails.</exception>
    public string SelfCheck() => (string)Invoke(_entry, "SelfCheck", Assembly.Location)!;

    private static object? Invoke(Type entry, string method, string pluginPath, params object?[] arguments)
    {
        var target = entry.GetMethod(method, BindingFlags.Public | BindingFlags.Static)
            ?? throw new DistillationPluginException($"The distillation plugin '{pluginPath}' has no {entry.FullName}.{method}. Use the ModelCompression.Build.Distillation package of the same version as ModelCompression.Build.");
        try
        {
            return target.Invoke(null, arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is { } inner)
        {
            // TorchUnavailableException and TorchSharp's own errors: say what failed, not where.
            throw new DistillationPluginException($"Distillation is unavailable: {inner.Message}", inner);
        }
    }
}

/// <summary>The distillation plugin or libtorch cannot be loaded or run.</summary>
public sealed class DistillationPluginException(string message, Exception? inner = null) : Exception(message, inner);
