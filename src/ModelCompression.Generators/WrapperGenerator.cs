using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace ModelCompression.Generators;

/// <summary>
/// Generates one typed, allocation-free ONNX Runtime wrapper class per signature sidecar (<c>*.mcsig</c>)
/// in the project's AdditionalFiles.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class WrapperGenerator : IIncrementalGenerator
{
    /// <summary>Tracking names of the pipeline steps, for incrementality tests.</summary>
    public static class Steps
    {
        public const string Parse = "ParseSidecar";
        public const string Collect = "CollectSidecars";
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        // Per file and cached: an unchanged sidecar with unchanged item metadata parses to an equal model and nothing downstream reruns.
        var sidecars = context.AdditionalTextsProvider
            .Where(SidecarParser.IsSidecar)
            .Combine(context.AnalyzerConfigOptionsProvider)
            .Select((pair, cancellationToken) =>
                SidecarParser.Parse(pair.Left, WrapperMetadata.Read(pair.Right.GetOptions(pair.Left)), cancellationToken))
            .WithTrackingName(Steps.Parse);

        // Collected only to find two sidecars that generate the same class.
        context.RegisterSourceOutput(sidecars.Collect().WithTrackingName(Steps.Collect), Emit);
    }

    private static void Emit(SourceProductionContext context, ImmutableArray<SidecarParseResult> results)
    {
        var emitted = new Dictionary<string, string>(StringComparer.Ordinal);
        // Hint names are compared ignoring case (they become file names), class names are not.
        var hintNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var result in results)
        {
            foreach (var diagnostic in result.Diagnostics) context.ReportDiagnostic(diagnostic.ToDiagnostic());
            if (result.Model is not { } model) continue;
            if (emitted.TryGetValue(model.FullName, out var firstPath))
            {
                context.ReportDiagnostic(new DiagnosticInfo(DiagnosticDescriptors.DuplicateClass, result.SidecarPath,
                    $"it generates class '{model.FullName}', which '{firstPath}' generates too. Set a different ClassName (or Namespace) metadata on one of the two CompressedModel items.").ToDiagnostic());
                continue;
            }
            emitted.Add(model.FullName, result.SidecarPath);
            var hintName = model.FullName;
            for (var n = 2; !hintNames.Add(hintName); n++) hintName = model.FullName + "." + n;
            context.AddSource(hintName + ".g.cs", WrapperEmitter.Emit(model));
        }
    }
}
