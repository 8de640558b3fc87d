using System.Security;
using System.Text.RegularExpressions;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// A throwaway app that uses the packed package the way a user does: a project with a
/// PackageReference and CompressedModel items, in a temp folder whose path has a space (so command
/// lines are quoted), with a NuGet.config that adds the test feed to the machine's sources.
/// </summary>
public sealed class ConsumerProject : IDisposable
{
    public const string Name = "ConsumerApp";
    public const string TargetFramework = "net10.0";
    public const string Configuration = "Debug";

    /// <summary>What a model item usually looks like in these tests: the digits-mlp copy made by <see cref="AddSharedModel"/>.</summary>
    public const string DigitsItem =
        """<CompressedModel Include="Models/digits-mlp.onnx" ValidationData="Models/digits-mlp.validation.npz" MaxAccuracyDrop="1%" />""";

    private readonly TempDirectory _root = new("mc e2e");
    private readonly PackedPackage _package;

    public ConsumerProject(PackedPackage package)
    {
        _package = package;
        Directory.CreateDirectory(ProjectDirectory);
        File.WriteAllText(_root.Combine("NuGet.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="modelcompression-e2e" value="{SecurityElement.Escape(package.FeedDirectory)}" />
              </packageSources>
            </configuration>
            """);
        // Stop MSBuild's search for Directory.Build.* and Directory.Packages.props above the temp folder.
        WriteDirectoryBuildFiles();
        File.WriteAllText(_root.Combine("Directory.Packages.props"), "<Project />");
        File.WriteAllText(Path.Combine(ProjectDirectory, "Program.cs"), "System.Console.WriteLine(\"consumer\");\n");
    }

    /// <summary>The folder above the project: room for files outside it (linked models).</summary>
    public string Root => _root.Path;

    public string ProjectDirectory => _root.Combine("Consumer App");

    public string ProjectFile => Path.Combine(ProjectDirectory, Name + ".csproj");

    /// <summary>NuGet's restore output: every package of the graph, with the assets each gives the project.</summary>
    public string AssetsFile => Path.Combine(ProjectDirectory, "obj", "project.assets.json");

    public string IntermediateDirectory => Path.Combine(ProjectDirectory, "obj", Configuration, TargetFramework);

    public string OutputDirectory => Path.Combine(ProjectDirectory, "bin", Configuration, TargetFramework);

    /// <summary>Where the compressed model, its sidecar and report go for an item with this app path.</summary>
    public string CompressionOutput(string appRelativePath) =>
        Path.Combine(IntermediateDirectory, "ModelCompression", appRelativePath);

    public string PathOf(params string[] parts) => Path.Combine([ProjectDirectory, .. parts]);

    /// <summary>
    /// Copies a model of /work/shared/models (skipping the test when absent) into the project:
    /// <c>Models/&lt;model&gt;.onnx</c>, <c>.validation.npz</c> and <c>.calibration.npz</c>.
    /// </summary>
    public void AddSharedModel(string model = "digits-mlp", string folder = "Models")
    {
        var source = SharedModels.Folder(model);
        var target = Path.Combine(ProjectDirectory, folder);
        Directory.CreateDirectory(target);
        CopyWritable(Path.Combine(source, "model.onnx"), Path.Combine(target, model + ".onnx"));
        foreach (var split in new[] { "validation", "calibration" })
        {
            var data = Path.Combine(source, split + ".npz");
            if (File.Exists(data)) CopyWritable(data, Path.Combine(target, $"{model}.{split}.npz"));
        }
    }

    /// <summary>Writes the project file: the package reference plus the given items and properties.</summary>
    /// <param name="distillation">Also reference ModelCompression.Build.Distillation (pack it first: <see cref="PackedPackage.PackDistillation"/>).</param>
    public void WriteProject(string items = DigitsItem, string properties = "", bool distillation = false) =>
        File.WriteAllText(ProjectFile, ProjectXml(items, properties, distillation));

    /// <summary>
    /// Writes <c>Root/Directory.Build.props</c> and <c>.targets</c>, the solution-wide files a user shares between
    /// projects, with the given content inside their <c>Project</c> element (the props keep the harness's NoWarn).
    /// </summary>
    public void WriteDirectoryBuildFiles(string props = "", string targets = "")
    {
        File.WriteAllText(_root.Combine("Directory.Build.props"), $"""
            <Project>
              <PropertyGroup>
                <!-- This machine's NuGet mirror lacks some exact lower bounds of ONNX Runtime's dependencies. -->
                <NoWarn>$(NoWarn);NU1603</NoWarn>
              </PropertyGroup>
              {props}
            </Project>
            """);
        File.WriteAllText(_root.Combine("Directory.Build.targets"), $"<Project>{targets}</Project>");
    }

    /// <summary>Another app beside this one (<c>Root/name/name.csproj</c>), for projects that share a model; returns its project file.</summary>
    public string AddSiblingProject(string name, string items, string properties = "")
    {
        var directory = Path.Combine(Root, name);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "Program.cs"), "System.Console.WriteLine(\"consumer\");\n");
        var project = Path.Combine(directory, name + ".csproj");
        File.WriteAllText(project, ProjectXml(items, properties));
        return project;
    }

    private string DistillationReference => $"<PackageReference Include=\"{PackedPackage.DistillationId}\" Version=\"{_package.Version}\" />";

    private string ProjectXml(string items, string properties, bool distillation = false) => $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>{TargetFramework}</TargetFramework>
                <Nullable>enable</Nullable>
                {properties}
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="{PackedPackage.Id}" Version="{_package.Version}" />
                {(distillation ? DistillationReference : "")}
              </ItemGroup>
              <ItemGroup>
                {items}
              </ItemGroup>
            </Project>
            """;

    /// <summary><c>dotnet build</c> at normal verbosity, in a fresh MSBuild process with no build servers.</summary>
    public BuildResult Build(params string[] arguments) => Dotnet(["build", ProjectFile, .. arguments]);

    /// <summary>Any dotnet command on the project, with the flags that keep builds isolated.</summary>
    public BuildResult Dotnet(params string[] arguments) =>
        new(DotNet.Run(ProjectDirectory, [.. arguments, "-nodeReuse:false", "--disable-build-servers", "-tl:off", "-v:n"]));

    public void Dispose() => _root.Dispose();

    private static void CopyWritable(string source, string target)
    {
        File.Copy(source, target, overwrite: true);
        File.SetAttributes(target, FileAttributes.Normal); // the shared models are read-only
        File.SetLastWriteTimeUtc(target, DateTime.UtcNow);
    }
}

/// <summary>A build's result, with the MSBuild errors and warnings of its output parsed.</summary>
public sealed partial record BuildResult(CommandResult Command)
{
    /// <summary>The line the task logs (at high importance) each time it launches the worker for a model.</summary>
    public const string CompressingMarker = "ModelCompression: compressing ";

    public bool Succeeded => Command.Succeeded;

    public string Output => Command.Output;

    /// <summary>Errors as MSBuild reports them (each once, although the console repeats them in its summary).</summary>
    public IReadOnlyList<BuildDiagnostic> Errors => Diagnostics("error");

    public IReadOnlyList<BuildDiagnostic> Warnings => Diagnostics("warning");

    public bool Compressed(string appRelativePath) => Output.Contains(CompressingMarker + appRelativePath, StringComparison.Ordinal);

    public BuildResult AssertSucceeded()
    {
        Assert.True(Succeeded, $"The build failed.{Environment.NewLine}{Command}");
        return this;
    }

    public BuildResult AssertFailed()
    {
        Assert.False(Succeeded, $"The build succeeded but should have failed.{Environment.NewLine}{Command}");
        return this;
    }

    public override string ToString() => Command.ToString();

    private List<BuildDiagnostic> Diagnostics(string category) =>
        Output.Split('\n')
            .Select(line => DiagnosticLine().Match(line.TrimEnd('\r')))
            .Where(m => m.Success && m.Groups["category"].Value == category)
            .Select(m => new BuildDiagnostic(m.Groups["code"].Value, m.Groups["file"].Value.Trim(), m.Groups["message"].Value))
            .Distinct()
            .ToList();

    // "1>file(1,2): error MC1002: message [project.csproj]" or "file : error MC1002: message [project.csproj]"
    [GeneratedRegex(@"^\s*(\d+>)?(?<file>.*?)(\(\d+(,\d+)*\))?\s*:\s*(?<category>error|warning)\s+(?<code>[A-Z]+\d+)\s*:\s*(?<message>.*?)(\s+\[[^\]]+\])?$")]
    private static partial Regex DiagnosticLine();
}

public sealed record BuildDiagnostic(string Code, string File, string Message);
