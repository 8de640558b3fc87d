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

    public static GeneratorDriver Driver(params AdditionalText[] texts) =>
        CSharpGeneratorDriver.Create(
            [new WrapperGenerator().AsSourceGenerator()], texts, ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once over the given files.</summary>
    public static GeneratorRunResult Run(params AdditionalText[] texts) =>
        Driver(texts).RunGenerators(Compilation()).GetRunResult().Results.Single();

    public static AdditionalText Sidecar(string path, string text) => new InMemoryText(path, text);

    /// <summary>The generated source of the only generated file.</summary>
    public static string SingleSource(GeneratorRunResult result)
    {
        Assert.Empty(result.Diagnostics);
        Assert.Null(result.Exception);
        return Assert.Single(result.GeneratedSources).SourceText.ToString();
    }

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

    private sealed class InMemoryText(string path, string text) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path => path;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }
}
