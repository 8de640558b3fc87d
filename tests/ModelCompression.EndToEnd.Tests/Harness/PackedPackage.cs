using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// The ModelCompression.Build package, packed once per test run from this repository into a temp
/// feed, with a unique prerelease version: NuGet's global-packages folder can never serve an older
/// package of that version, and every MSBuild node that loads its task is a fresh one.
/// It is built in the configuration the tests were built in, so the repository's build is reused.
/// </summary>
public sealed class PackedPackage : IAsyncLifetime
{
    public const string Id = "ModelCompression.Build";

    /// <summary>The distillation add-on, packed into the same feed with the same version only when a test asks for it (<see cref="PackDistillation"/>).</summary>
    public const string DistillationId = "ModelCompression.Build.Distillation";

    private readonly Lock _distillationGate = new();
    private CommandResult? _distillationPack;

    private readonly TempDirectory _feed = new("mc-e2e-feed");

    public string Version { get; } = string.Create(CultureInfo.InvariantCulture,
        $"0.0.0-e2e.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");

    public string Configuration { get; } =
        typeof(PackedPackage).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>A folder holding only this package: a NuGet source for the consumers.</summary>
    public string FeedDirectory => _feed.Path;

    public string PackagePath => Path.Combine(FeedDirectory, $"{Id}.{Version}.nupkg");

    public CommandResult Pack { get; private set; } = null!;

    public ValueTask InitializeAsync()
    {
        Pack = DotNet.Run(RepositoryPaths.Root,
            "pack", RepositoryPaths.Combine("src", "ModelCompression.Build", "ModelCompression.Build.csproj"),
            "-c", Configuration, "-o", FeedDirectory, $"-p:PackageVersion={Version}",
            "-nodeReuse:false", "-tl:off", "-v:m");
        if (!Pack.Succeeded || !File.Exists(PackagePath))
            throw new InvalidOperationException($"Packing {Id} failed.{Environment.NewLine}{Pack}");
        return ValueTask.CompletedTask;
    }

    public string DistillationPackagePath => Path.Combine(FeedDirectory, $"{DistillationId}.{Version}.nupkg");

    /// <summary>Packs ModelCompression.Build.Distillation into the feed (once); tests that do not distil never pay for it.</summary>
    public void PackDistillation()
    {
        lock (_distillationGate)
        {
            _distillationPack ??= DotNet.Run(RepositoryPaths.Root,
                "pack", RepositoryPaths.Combine("src", "ModelCompression.Build.Distillation", "ModelCompression.Build.Distillation.csproj"),
                "-c", Configuration, "-o", FeedDirectory, $"-p:PackageVersion={Version}",
                "-nodeReuse:false", "-tl:off", "-v:m");
            if (!_distillationPack.Succeeded || !File.Exists(DistillationPackagePath))
                throw new InvalidOperationException($"Packing {DistillationId} failed.{Environment.NewLine}{_distillationPack}");
        }
    }

    /// <summary>The package's file names, e.g. <c>tools/net10.0/ModelCompression.Cli.dll</c>.</summary>
    public IReadOnlyList<string> Entries()
    {
        using var zip = ZipFile.OpenRead(PackagePath);
        return zip.Entries.Select(e => e.FullName).ToList();
    }

    public byte[] ReadEntry(string name)
    {
        using var zip = ZipFile.OpenRead(PackagePath);
        var entry = zip.GetEntry(name) ?? throw new FileNotFoundException($"{name} is not in {PackagePath}.");
        using var stream = entry.Open();
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    public ValueTask DisposeAsync()
    {
        _feed.Dispose();
        // The consumers' restores extracted this one-off version into the global-packages folder.
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (var id in new[] { Id, DistillationId })
        {
            var extracted = Path.Combine(packages, id.ToLowerInvariant(), Version.ToLowerInvariant());
            try { if (Directory.Exists(extracted)) Directory.Delete(extracted, recursive: true); }
            catch (IOException) { /* a build server may still hold a file: it is only disk space */ }
        }
        return ValueTask.CompletedTask;
    }
}
