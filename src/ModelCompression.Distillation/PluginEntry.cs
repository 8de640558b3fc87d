using System.Globalization;
using ModelCompression.Distillation.Native;
using TorchSharp;

namespace ModelCompression.Distillation;

/// <summary>
/// The worker's way into this assembly. The worker loads it in its own AssemblyLoadContext (it never references it, so
/// that a project without the ModelCompression.Build.Distillation package never loads TorchSharp) and calls these by name;
/// the distiller itself is the assembly's one public implementation of <c>IDistiller</c>.
/// </summary>
public static class PluginEntry
{
    /// <summary>Loads libtorch and the binding library (<see cref="TorchRuntime.EnsureLoaded"/>); the worker's load context binds <c>DllImport</c>s to these.</summary>
    /// <exception cref="TorchUnavailableException">A library is missing or does not load.</exception>
    public static IReadOnlyDictionary<string, IntPtr> LoadNativeLibraries(IReadOnlyList<string> nativeDirectories, string? cacheDirectory) =>
        TorchRuntime.EnsureLoaded(nativeDirectories.Count == 0 ? null : nativeDirectories, cacheDirectory);

    /// <summary>One small computation through TorchSharp and libtorch: proves the plugin runs on this machine.</summary>
    public static string SelfCheck()
    {
        using var a = HeldScalars.Arange(0L, 6L, 1L, torch.ScalarType.Float32).reshape(2, 3);
        using var product = a.matmul(a.t());
        var values = product.data<float>().ToArray().Select(v => v.ToString(CultureInfo.InvariantCulture));
        return $"TorchSharp {typeof(torch).Assembly.GetName().Version}: [[0,1,2],[3,4,5]] times its transpose is [{string.Join(", ", values)}]";
    }
}
