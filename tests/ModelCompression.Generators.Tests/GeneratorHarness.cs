extern alias Generators;

using System.Collections.Immutable;
using System.Reflection;
using Generators::ModelCompression.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
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
            [new WrapperGenerator().AsSourceGenerator()], texts, ParseOptions, new MetadataOptionsProvider(),
            new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs the generator once over the given files.</summary>
    public static GeneratorRunResult Run(params AdditionalText[] texts) =>
        Driver(texts).RunGenerators(Compilation()).GetRunResult().Results.Single();

    /// <param name="metadata">The item's compiler-visible metadata, e.g. ("ModelCompressionMaxBatchSize", "8").</param>
    public static AdditionalText Sidecar(string path, string text, params (string Name, string Value)[] metadata) =>
        new InMemoryText(path, text, metadata);

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

    private sealed class InMemoryText(string path, string text, (string Name, string Value)[] metadata) : AdditionalText
    {
        private readonly SourceText _text = SourceText.From(text);

        public override string Path => path;

        public (string Name, string Value)[] Metadata => metadata;

        public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
    }

    // What MSBuild's CompilerVisibleItemMetadata gives the compiler: build_metadata.AdditionalFiles.<Name> per file.
    private sealed class MetadataOptionsProvider : AnalyzerConfigOptionsProvider
    {
        private static readonly AnalyzerConfigOptions NoOptions = new Options([]);

        public override AnalyzerConfigOptions GlobalOptions => NoOptions;

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => NoOptions;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) =>
            textFile is InMemoryText { Metadata.Length: > 0 } text
                ? new Options(text.Metadata.ToDictionary(m => "build_metadata.AdditionalFiles." + m.Name, m => m.Value))
                : NoOptions;

        private sealed class Options(Dictionary<string, string> values) : AnalyzerConfigOptions
        {
            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value) =>
                values.TryGetValue(key, out value);
        }
    }
}
