using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// What a solution builds on: the public hooks around compression, item defaults set once in Directory.Build.props,
/// and the wrapper's metadata (MaxBatchSize, MaxSizes, Embed, Labels) handed to the compiler without recompressing.
/// </summary>
public sealed class ExtensionPointTests(PackedPackage package)
{
    private const string Model = "Models/digits-mlp.onnx";

    [Fact]
    public void Hooks_RunBeforeTheWorker_AndAfterItsOutputsExist_InEveryRealBuild_ButNotInDesignTimeBuilds()
    {
        using var app = NewApp();
        // Each hook says whether the compressed model exists when it runs.
        const string exists = "$([System.IO.File]::Exists('$(MSBuildProjectDirectory)/$(IntermediateOutputPath)ModelCompression/Models/digits-mlp.onnx'))";
        app.WriteDirectoryBuildFiles(targets: $"""
            <PropertyGroup>
              <AfterCompressModelsDependsOn>$(AfterCompressModelsDependsOn);ListedAfterCompression</AfterCompressModelsDependsOn>
            </PropertyGroup>
            <Target Name="BeforeCompression" BeforeTargets="BeforeCompressModels">
              <Message Importance="high" Text="hook before: compressed={exists}" />
            </Target>
            <Target Name="AfterCompression" AfterTargets="AfterCompressModels">
              <Message Importance="high" Text="hook after: compressed={exists}" />
            </Target>
            <Target Name="ListedAfterCompression">
              <Message Importance="high" Text="hook listed: compressed={exists}" />
            </Target>
            """);

        var first = app.Build().AssertSucceeded();
        var upToDate = app.Build().AssertSucceeded();
        var designTime = app.Dotnet("msbuild", app.ProjectFile, "-t:Compile", "-p:DesignTimeBuild=true", "-p:SkipCompilerExecution=true").AssertSucceeded();

        AssertInOrder(first.Output, "hook before: compressed=False", BuildResult.CompressingMarker + Model, "hook listed: compressed=True",
            "hook after: compressed=True", "/additionalfile:");
        Assert.False(upToDate.Compressed(Model), upToDate.ToString());
        AssertInOrder(upToDate.Output, "hook before: compressed=True", "hook listed: compressed=True", "hook after: compressed=True");
        Assert.DoesNotContain("hook ", designTime.Output);
    }

    /// <summary>
    /// NuGet imports the package's props after Directory.Build.props: its defaults must not override a solution's
    /// ItemDefinitionGroup, and an item's own metadata still wins. Evaluated only (no worker).
    /// </summary>
    [Fact]
    public void ItemDefinitionsInDirectoryBuildProps_AreEveryItemsDefaults_OverThePackages()
    {
        using var app = new ConsumerProject(package);
        app.WriteDirectoryBuildFiles(props: """
            <ItemDefinitionGroup>
              <CompressedModel>
                <MaxAccuracyDrop>0.5%</MaxAccuracyDrop>
                <Techniques>int8;fp16</Techniques>
                <MaxBatchSize>8</MaxBatchSize>
                <MaxSizes>W=960;H=640</MaxSizes>
              </CompressedModel>
            </ItemDefinitionGroup>
            """);
        app.WriteProject("""
            <CompressedModel Include="Models/a.onnx" />
            <CompressedModel Include="Models/b.onnx" MaxAccuracyDrop="2%" MaxBatchSize="4" />
            """);

        var models = ResolvedModels(app);

        var a = models["a.onnx"];
        Assert.Contains("|max-accuracy-drop=0.5%|", a.GetProperty("Settings").GetString());
        Assert.Contains("|techniques=int8;fp16|", a.GetProperty("Settings").GetString());
        Assert.Equal("8", a.GetProperty("ModelCompressionMaxBatchSize").GetString());
        Assert.Equal("W=960;H=640", a.GetProperty("ModelCompressionMaxSizes").GetString());
        Assert.Equal(ConsumerProject.Name, a.GetProperty("Namespace").GetString()); // the package's default where the solution sets none
        var b = models["b.onnx"];
        Assert.Contains("|max-accuracy-drop=2%|", b.GetProperty("Settings").GetString());
        Assert.Equal("4", b.GetProperty("ModelCompressionMaxBatchSize").GetString());
        // The wrapper's metadata is not a compression setting.
        Assert.DoesNotContain("W=960", a.GetProperty("Settings").GetString()); // not a bare "960": the settings hold the temp folder's random name
    }

    [Fact]
    public void WrapperMetadata_ReachesTheCompiler_EmbedMakesAResource_AndChangingThemDoesNotRecompress()
    {
        using var app = NewApp();
        File.WriteAllLines(app.PathOf("Models", "digits.labels.txt"), Enumerable.Range(0, 10).Select(d => "digit " + d));
        app.WriteProject("""
            <CompressedModel Include="Models/digits-mlp.onnx" ValidationData="Models/digits-mlp.validation.npz"
                             MaxBatchSize="8" Labels="Models/digits.labels.txt" Embed="true" />
            """);
        var sidecar = app.CompressionOutput(Model) + ".mcsig";
        var shipped = Path.Combine(app.OutputDirectory, "Models", "digits-mlp.onnx");

        var embedded = app.Build().AssertSucceeded();

        Assert.True(embedded.Compressed(Model), embedded.ToString());
        var config = EditorConfigSections(app);
        Assert.Equal("8", config[sidecar]["build_metadata.AdditionalFiles.ModelCompressionMaxBatchSize"]);
        Assert.Equal("ModelCompression.ConsumerApp.DigitsMlp.onnx", config[sidecar]["build_metadata.AdditionalFiles.ModelCompressionEmbeddedResource"]);
        Assert.Equal(app.PathOf("Models", "digits.labels.txt"), config[sidecar]["build_metadata.AdditionalFiles.ModelCompressionLabels"]);
        Assert.Equal(sidecar, config[app.PathOf("Models", "digits.labels.txt")]["build_metadata.AdditionalFiles.ModelCompressionLabelsFor"]);
        Assert.Equal(File.ReadAllBytes(app.CompressionOutput(Model)), ManifestResource(app, "ModelCompression.ConsumerApp.DigitsMlp.onnx"));
        Assert.False(File.Exists(shipped), "an embedded model is not copied to the output directory");

        app.WriteProject();
        var file = app.Build().AssertSucceeded();

        Assert.False(file.Compressed(Model), file.ToString());
        Assert.True(File.Exists(shipped), file.ToString());
        Assert.Null(ManifestResource(app, "ModelCompression.ConsumerApp.DigitsMlp.onnx"));
        Assert.Equal("", EditorConfigSections(app)[sidecar]["build_metadata.AdditionalFiles.ModelCompressionEmbeddedResource"]);
    }

    [Fact]
    public void MissingLabelsFile_IsMC3002_AndEmbedNotABoolean_IsMC3001_BeforeTheWorkerRuns()
    {
        using var app = new ConsumerProject(package);
        app.AddSharedModel();
        File.Copy(app.PathOf("Models", "digits-mlp.onnx"), app.PathOf("Models", "digits-copy.onnx"));
        app.WriteProject("""
            <CompressedModel Include="Models/digits-mlp.onnx" Labels="Models/missing.txt" />
            <CompressedModel Include="Models/digits-copy.onnx" Embed="yes" />
            """);

        var build = app.Build().AssertFailed();

        Assert.Equal(["MC3001", "MC3002"], build.Errors.Select(e => e.Code).Order());
        var labels = build.Errors.Single(e => e.Code == "MC3002");
        Assert.Equal(app.PathOf("Models", "digits-mlp.onnx"), labels.File);
        Assert.Contains(app.PathOf("Models", "missing.txt"), labels.Message);
        Assert.Contains("create it or correct the path", labels.Message);
        Assert.Contains("Embed=\"yes\"", build.Errors.Single(e => e.Code == "MC3001").Message);
        Assert.DoesNotContain(BuildResult.CompressingMarker, build.Output);
    }

    private ConsumerProject NewApp()
    {
        var app = new ConsumerProject(package);
        app.AddSharedModel();
        app.WriteProject();
        return app;
    }

    private static void AssertInOrder(string output, params string[] markers)
    {
        var at = 0;
        foreach (var marker in markers)
        {
            var found = output.IndexOf(marker, at, StringComparison.Ordinal);
            Assert.True(found >= 0, $"'{marker}' is missing after position {at}:{Environment.NewLine}{output}");
            at = found + marker.Length;
        }
    }

    /// <summary>The items the package's resolve target makes of the CompressedModel items, by file name.</summary>
    private static Dictionary<string, JsonElement> ResolvedModels(ConsumerProject app)
    {
        var result = app.Dotnet("msbuild", app.ProjectFile, "-restore", "-t:_ModelCompressionResolve", "-getItem:_CompressedModelResolved").AssertSucceeded();
        var json = JsonDocument.Parse(result.Output[result.Output.IndexOf('{')..]);
        return json.RootElement.GetProperty("Items").GetProperty("_CompressedModelResolved").EnumerateArray()
            .ToDictionary(item => item.GetProperty("Filename").GetString() + item.GetProperty("Extension").GetString());
    }

    /// <summary>The compiler's view of item metadata: the SDK's generated .editorconfig, section (file path) → key → value.</summary>
    private static Dictionary<string, Dictionary<string, string>> EditorConfigSections(ConsumerProject app)
    {
        var sections = new Dictionary<string, Dictionary<string, string>>();
        var current = new Dictionary<string, string>();
        foreach (var line in File.ReadLines(Path.Combine(app.IntermediateDirectory, ConsumerProject.Name + ".GeneratedMSBuildEditorConfig.editorconfig")))
        {
            if (line.StartsWith('[')) sections[line[1..^1]] = current = [];
            else if (line.Split(" = ", 2) is [var key, var value]) current[key] = value;
        }
        return sections;
    }

    private static byte[]? ManifestResource(ConsumerProject app, string name)
    {
        using var pe = new PEReader(File.OpenRead(Path.Combine(app.IntermediateDirectory, ConsumerProject.Name + ".dll")));
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.ManifestResources)
        {
            var resource = metadata.GetManifestResource(handle);
            if (metadata.GetString(resource.Name) != name) continue;
            var section = pe.GetSectionData(pe.PEHeaders.CorHeader!.ResourcesDirectory.RelativeVirtualAddress);
            var reader = section.GetReader((int)resource.Offset, section.Length - (int)resource.Offset);
            return reader.ReadBytes(reader.ReadInt32());
        }
        return null;
    }
}
