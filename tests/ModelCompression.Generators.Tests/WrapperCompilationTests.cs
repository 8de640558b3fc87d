using Microsoft.CodeAnalysis;

namespace ModelCompression.Generators.Tests;

public class WrapperCompilationTests
{
    [Theory]
    [MemberData(nameof(SidecarCases.Names), MemberType = typeof(SidecarCases))]
    public void Generated_wrapper_compiles_without_any_diagnostic_against_OnnxRuntime(string caseName)
    {
        var source = GeneratorHarness.SingleSource(GeneratorHarness.Run(SidecarCases.Text(caseName)));

        var compilation = GeneratorHarness.Compilation(GeneratorHarness.Parse(source));
        using var assembly = new MemoryStream();
        var emit = compilation.Emit(assembly, cancellationToken: TestContext.Current.CancellationToken);

        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics));
        Assert.Empty(emit.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Info));
    }

    [Fact]
    public void Users_usings_and_aliases_cannot_change_what_the_wrapper_means()
    {
        // A user's project may declare types that shadow System, ONNX Runtime or primitive names.
        const string hostile = """
            global using Span = System.String;
            global using IDisposable = System.String;
            namespace FashionClassifier
            {
                internal class System { }
                internal class Microsoft { }
                internal class GC { }
                internal class Marshal { }
                internal class OrtValue { }
            }
            """;
        var source = GeneratorHarness.SingleSource(GeneratorHarness.Run(SidecarCases.Text(SidecarCases.FashionCnn)));

        var compilation = GeneratorHarness.Compilation(
            GeneratorHarness.Parse(hostile),
            GeneratorHarness.Parse(source));

        Assert.Empty(compilation.GetDiagnostics(TestContext.Current.CancellationToken).Where(d => d.Severity >= DiagnosticSeverity.Warning));
    }
}
