using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using System.Xml.Linq;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

public sealed class PackageLayoutTests(PackedPackage package)
{
    private const string Worker = "tools/net10.0/";

    [Fact]
    public void Package_HoldsTargetsTaskGeneratorAndWorker_AndNoLib()
    {
        var entries = package.Entries();

        Assert.Contains("build/ModelCompression.Build.props", entries);
        Assert.Contains("build/ModelCompression.Build.targets", entries);
        Assert.Contains("tasks/netstandard2.0/ModelCompression.Build.Tasks.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/ModelCompression.Generators.dll", entries);
        foreach (var file in new[] { "ModelCompression.Cli.dll", "ModelCompression.Cli.deps.json", "ModelCompression.Cli.runtimeconfig.json",
                     "ModelCompression.Core.dll", "Google.Protobuf.dll", "System.CommandLine.dll", "MathNet.Numerics.dll", "Microsoft.ML.OnnxRuntime.dll" })
            Assert.Contains(Worker + file, entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/", StringComparison.Ordinal) || e.StartsWith("ref/", StringComparison.Ordinal));
    }

    [Fact]
    public void Worker_ShipsNoNativeLibrariesAndNoAppHost()
    {
        var worker = package.Entries().Where(e => e.StartsWith(Worker, StringComparison.Ordinal)).ToList();

        Assert.DoesNotContain(worker, e => e.Contains("/runtimes/", StringComparison.Ordinal));
        Assert.DoesNotContain(worker, e => Path.GetFileName(e) is var name
            && (name.StartsWith("libonnxruntime", StringComparison.Ordinal) || name.StartsWith("onnxruntime", StringComparison.Ordinal)));
        Assert.DoesNotContain(Worker + "ModelCompression.Cli", worker);
        Assert.DoesNotContain(Worker + "ModelCompression.Cli.exe", worker);
    }

    /// <summary>
    /// The host finds ONNX Runtime's natives for the worker in the consumer's restored
    /// Microsoft.ML.OnnxRuntime package, so the package must depend on exactly the version the
    /// worker was built against, with all assets flowing (the app needs ORT at run time too).
    /// </summary>
    [Fact]
    public void Nuspec_DependsOnTheOnnxRuntimeVersionTheWorkerNeeds()
    {
        using var deps = JsonDocument.Parse(package.ReadEntry(Worker + "ModelCompression.Cli.deps.json"));
        var workerOrt = deps.RootElement.GetProperty("libraries").EnumerateObject()
            .Select(p => p.Name.Split('/'))
            .Single(p => p[0].Equals("Microsoft.ML.OnnxRuntime", StringComparison.OrdinalIgnoreCase));

        var nuspec = XDocument.Load(new MemoryStream(package.ReadEntry(PackedPackage.Id + ".nuspec")));
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        var dependencies = metadata.Descendants(ns + "dependency").ToList();
        var ort = Assert.Single(dependencies, d => (string?)d.Attribute("id") == "Microsoft.ML.OnnxRuntime");

        Assert.Equal(workerOrt[1], (string?)ort.Attribute("version"));
        Assert.Null(ort.Attribute("exclude"));
        Assert.Single(dependencies);
        Assert.Equal(package.Version, metadata.Element(ns + "version")!.Value);
        Assert.NotEqual("true", metadata.Element(ns + "developmentDependency")?.Value);
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
    }

    /// <summary>The task runs inside MSBuild: it must reference MSBuild and the framework only, never ORT or the worker.</summary>
    [Fact]
    public void Task_ReferencesOnlyMSBuildAndTheFramework()
    {
        using var pe = new PEReader(new MemoryStream(package.ReadEntry("tasks/netstandard2.0/ModelCompression.Build.Tasks.dll")));
        var reader = pe.GetMetadataReader();
        var references = reader.AssemblyReferences.Select(h => reader.GetString(reader.GetAssemblyReference(h).Name)).ToList();

        Assert.Contains("Microsoft.Build.Utilities.Core", references);
        Assert.All(references, r => Assert.True(r is "netstandard" || r.StartsWith("Microsoft.Build", StringComparison.Ordinal), $"The task references {r}."));
    }
}
