extern alias Generators;

using System.Collections.Immutable;
using System.Reflection;
using Generators::ModelCompression.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace ModelCompression.Generators.Tests;

/// <summary>Runs <see cref="WrapperGenerator"/> through Roslyn's driver over in-memory additional files.</summary>
internal static class GeneratorHarness
{
    // .NET 8 consumers compile with C# 12 by default; Diagnose makes XML doc comment mistakes warnings (CS1570...).
    public static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.CSharp12, DocumentationMode.Diagnose);

    /// <summary>A consumer project: nullable on, every warning (all warning waves) an error, no unsafe code.</summary>
    public static CSharpCompilation Compilation(params SyntaxTree[] trees) =>
        CSharpCompilation.Create("Consumer", trees, References.Value, new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            nullableContextOptions: NullableContextOptions.Enable,
            generalDiagnosticOption: ReportDiagnostic.Error,
            warningLevel: 9999,
            allowUnsafe: false));

    public static SyntaxTree Parse(string source) => CSharpSyntaxTree.ParseText(source, ParseOptions);

    public static GeneratorDriver Driver(params AdditionalText[] texts) => Driver(null, texts);

    public static GeneratorDriver Driver(AdditionalFileMetadata? metadata, params AdditionalText[] texts) =>
        CSharpGeneratorDriver.Create(
            [new WrapperGenerator().AsSourceGenerator()], texts, ParseOptions, metadata ?? new AdditionalFileMetadata(),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));


    /// <summary>Runs the generator once over the given files.</summary>
    public static GeneratorRunResult Run(params AdditionalText[] texts) => Run(null, texts);

    /// <summary>Runs the generator once over the given files and their metadata (e.g. <see cref="AdditionalFileMetadata"/>).</summary>
    public static GeneratorRunResult Run(AdditionalFileMetadata? metadata, params AdditionalText[] texts) =>
        Driver(metadata, texts).RunGenerators(Compilation()).GetRunResult().Results.Single();

    /// <param name="metadata">The item's compiler-visible metadata, e.g. ("ModelCompressionMaxBatchSize", "8").</param>
    public static AdditionalText Sidecar(string path, string text, params (string Name, string Value)[] metadata) =>
        new InMemoryText(path, text, metadata);

    /// <summary>The source of the one wrapper class generated (its main file, <c>{Class}.g.cs</c>).</summary>
    public static string SingleSource(GeneratorRunResult result) =>
        Assert.Single(Sources(result), s => !IsHelperFile(s.HintName)).SourceText.ToString();

    /// <summary>The source of the one generated file whose hint name ends with <paramref name="suffix"/> (e.g. ".Pool.g.cs").</summary>
    public static string Source(GeneratorRunResult result, string suffix) =>
        Assert.Single(Sources(result), s => s.HintName.EndsWith(suffix, StringComparison.Ordinal)).SourceText.ToString();

    /// <summary>Every generated file, after checking the run reported nothing.</summary>
    public static IReadOnlyList<GeneratedSourceResult> Sources(GeneratorRunResult result)
    {
        Assert.Empty(result.Diagnostics);
        Assert.Null(result.Exception);
        return result.GeneratedSources;
    }

    /// <summary>The hint names of the wrapper classes' main files (without the pool and helper files).</summary>
    public static IEnumerable<string> WrapperHintNames(GeneratorRunResult result) =>
        result.GeneratedSources.Select(s => s.HintName).Where(name => !IsHelperFile(name));

    private static bool IsHelperFile(string hintName) =>
        hintName.EndsWith(".Pool.g.cs", StringComparison.Ordinal) || hintName.EndsWith(".ClassScores.g.cs", StringComparison.Ordinal);

    // The framework's assemblies plus ONNX Runtime's managed API and the assemblies it refers to.
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator)
            .Where(p => Path.GetDirectoryName(p) == runtimeDirectory && p.EndsWith(".dll", StringComparison.Ordinal));
        var ort = typeof(Microsoft.ML.OnnxRuntime.OrtValue).Assembly;
        var ortDependencies = ort.GetReferencedAssemblies().Select(a => Assembly.Load(a).Location);
        return [.. framework.Concat([ort.Location]).Concat(ortDependencies).Distinct().Select(p => MetadataReference.CreateFromFile(p))];
    });

    /// <summary>A file and its compiler-visible metadata (which <see cref="AdditionalFileMetadata"/> reports for it).</summary>
    internal sealed class InMemoryText(string path, string text, (string Name, string Value)[] metadata) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path => path;

        public (string Name, string Value)[] Metadata => metadata;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
