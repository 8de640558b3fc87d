using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ModelCompression.Distillation.Native;

/// <summary>
/// Loads libtorch and TorchSharp's native library before the first tensor operation. On Linux the binding library is
/// loaded from a copy whose GLIBCXX_3.4.32 need is weak (<see cref="ElfVersionNeeds"/>), kept in this tool's own cache:
/// the user's files and the NuGet packages are never modified. Later loads by name (TorchSharp's <c>DllImport</c>s,
/// the libraries' own dependencies) find the already loaded libraries by their sonames.
/// </summary>
public static class TorchRuntime
{
    public const string BindingLibrary = "libLibTorchSharp.so";
    private const string Glibcxx332 = "GLIBCXX_3.4.32";
    internal const string OmpWaitPolicy = "OMP_WAIT_POLICY";

    /// <summary>libtorch's libraries in dependency order; each one's own dependencies resolve beside it.</summary>
    private static readonly string[] TorchLibraries = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];

    private static readonly Lock Gate = new();
    private static IReadOnlyDictionary<string, IntPtr>? _loaded;

    /// <summary>The per-user cache for the patched copy (never inside a project or a package).</summary>
    public static string DefaultCacheDirectory
    {
        get
        {
            var root = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
            return Path.Combine(root.Length > 0 ? root : Path.GetTempPath(), "ModelCompression.Build", "native");
        }
    }

    /// <summary>Where the native libraries lie when this assembly runs from a build output (tests, the worker's own bin).</summary>
    public static IReadOnlyList<string> DefaultNativeDirectories
    {
        get
        {
            var here = Path.GetDirectoryName(typeof(TorchRuntime).Assembly.Location) ?? AppContext.BaseDirectory;
            return [Path.Combine(here, "runtimes", "linux-x64", "native"), here];
        }
    }

    /// <summary>The loaded libraries by the names a <c>DllImport</c> may ask for ("LibTorchSharp", "libtorch.so", …).</summary>
    public static IReadOnlyDictionary<string, IntPtr> Loaded => _loaded ?? new Dictionary<string, IntPtr>();

    /// <summary>Loads the native libraries once per process.</summary>
    /// <exception cref="TorchUnavailableException">A library is missing or does not load; the message names it.</exception>
    public static IReadOnlyDictionary<string, IntPtr> EnsureLoaded(IEnumerable<string>? nativeDirectories = null, string? cacheDirectory = null)
    {
        lock (Gate)
        {
            if (_loaded is not null) return _loaded;
            if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
                throw new TorchUnavailableException($"distillation runs on linux-x64 only (this is {RuntimeInformation.RuntimeIdentifier})");
            var directories = (nativeDirectories ?? DefaultNativeDirectories).Where(Directory.Exists).ToList();
            var loaded = new Dictionary<string, IntPtr>(StringComparer.Ordinal);
            WaitPassively();
            foreach (var library in TorchLibraries) Add(loaded, library, Load(Find(library, directories)));
            Add(loaded, BindingLibrary, Load(PatchedCopy(Find(BindingLibrary, directories), cacheDirectory ?? DefaultCacheDirectory)));
            return _loaded = loaded;
        }
    }

    /// <summary>
    /// libtorch's OpenMP threads sleep while they wait for work instead of spinning (libgomp's default): on a busy machine
    /// (a parallel build, test assemblies side by side) spinning threads keep the cores from the threads with work. The
    /// results are the same (the thread count is unchanged). libgomp reads the policy once, when libtorch loads, from the
    /// native environment, which .NET's own does not reach; a policy the user set stands.
    /// </summary>
    private static void WaitPassively() => _ = setenv(OmpWaitPolicy, "PASSIVE", overwrite: 0);

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    private static void Add(Dictionary<string, IntPtr> loaded, string file, IntPtr handle)
    {
        loaded[file] = handle;
        var stem = Path.GetFileNameWithoutExtension(file);
        loaded[stem] = handle;
        if (stem.StartsWith("lib", StringComparison.Ordinal)) loaded[stem[3..]] = handle;
    }

    private static string Find(string library, IReadOnlyList<string> directories) =>
        directories.Select(d => Path.Combine(d, library)).FirstOrDefault(File.Exists)
        ?? throw new TorchUnavailableException($"{library} was not found in {(directories.Count == 0 ? "any native directory" : string.Join(", ", directories))}");

    private static IntPtr Load(string path)
    {
        try
        {
            return NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            throw new TorchUnavailableException($"{path} did not load: {e.Message}", e);
        }
    }

    /// <summary>
    /// The binding library with its GLIBCXX_3.4.32 need made weak, cached by the original's content hash; written to a
    /// temporary file and renamed, so a concurrent build never loads a half-written copy.
    /// </summary>
    internal static string PatchedCopy(string original, string cacheDirectory)
    {
        var bytes = File.ReadAllBytes(original);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        var directory = Path.Combine(cacheDirectory, hash);
        var patched = Path.Combine(directory, BindingLibrary);
        if (File.Exists(patched)) return patched;
        try
        {
            if (!ElfVersionNeeds.MarkWeak(bytes, Glibcxx332)) return original;
        }
        catch (InvalidDataException e)
        {
            throw new TorchUnavailableException($"{original} is not a library this tool can prepare: {e.Message}", e);
        }
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temporary, bytes);
        try
        {
            File.Move(temporary, patched, overwrite: false);
        }
        catch (IOException) when (File.Exists(patched))
        {
            // Another build prepared the same copy first.
        }
        finally
        {
            File.Delete(temporary);
        }
        return patched;
    }
}

/// <summary>libtorch cannot run here: distillation is skipped with the reason, the build goes on.</summary>
public sealed class TorchUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
