using Microsoft.CodeAnalysis;
using ModelCompression.Signatures;

namespace ModelCompression.Generators.Tests;

public class WrapperCompilationTests
{
    [Theory]
    [MemberData(nameof(SidecarCases.Names), MemberType = typeof(SidecarCases))]
    public void Generated_wrapper_compiles_without_any_diagnostic_against_OnnxRuntime(string caseName)
    {
        AssertCompiles(GeneratorHarness.Sources(GeneratorHarness.Run(SidecarCases.Text(caseName))));
    }

    [Theory]
    [InlineData(nameof(SidecarCases.FashionCnn))]
    [InlineData(nameof(SidecarCases.Detector))]
    [InlineData(SidecarCases.EmbeddedFashionCnn)]
    public void Users_usings_and_aliases_cannot_change_what_the_wrapper_means(string caseName)
    {
        // A user's project may declare types that shadow System, ONNX Runtime or primitive names.
        var hostile = $$"""
            global using Span = System.String;
            global using IDisposable = System.String;
            namespace {{SidecarCases.Get(caseName).Namespace}}
            {
                internal class System { }
                internal class Microsoft { }
                internal class GC { }
                internal class Marshal { }
                internal class OrtValue { }
                internal class Array { }
                internal class ArgumentOutOfRangeException { }
                internal class Binding { }
            }
            """;
        var sources = GeneratorHarness.Sources(GeneratorHarness.Run(SidecarCases.Text(caseName)));

        var compilation = GeneratorHarness.Compilation(
            [GeneratorHarness.Parse(hostile), .. sources.Select(s => GeneratorHarness.Parse(s.SourceText.ToString()))]);

        Assert.Empty(compilation.GetDiagnostics(TestContext.Current.CancellationToken).Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }

    [Fact]
    public void A_wrapper_class_named_Lease_gets_a_pool_that_compiles()
    {
        // The pool's nested Lease type would hide the wrapper class if the pool named it without global::.
        var content = new SidecarContent("Lease", "App", "lease.onnx", [new("x", "float", [1, 2])], [new("y", "float", [1, 2])]);

        AssertCompiles(GeneratorHarness.Sources(GeneratorHarness.Run(GeneratorHarness.Sidecar("/project/lease.mcsig", SignatureSidecar.Write(content)))));
    }

    // The wrapper with its pool and class-score helpers, as one consumer project.
    private static void AssertCompiles(IEnumerable<GeneratedSourceResult> sources)
    {
        var compilation = GeneratorHarness.Compilation([.. sources.Select(s => GeneratorHarness.Parse(s.SourceText.ToString()))]);
        using var assembly = new MemoryStream();
        var emit = compilation.Emit(assembly, cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        Assert.Empty(emit.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Info));
    }
}
