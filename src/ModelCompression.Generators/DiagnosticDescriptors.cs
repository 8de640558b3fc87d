using Microsoft.CodeAnalysis;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Generators;

/// <summary>The generator's diagnostics. Every message starts with the sidecar's path; the detail says what to change.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "ModelCompression";

    public static readonly DiagnosticDescriptor SignatureInvalid = new(
        DiagnosticCode.SignatureInvalid,
        "The signature sidecar cannot be turned into a wrapper",
        "Signature sidecar '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidTypeName = new(
        DiagnosticCode.InvalidTypeName,
        "The wrapper's class name or namespace is not valid C#",
        "Signature sidecar '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DuplicateClass = new(
        DiagnosticCode.DuplicateWrapperClass,
        "Two signature sidecars generate the same wrapper class",
        "Signature sidecar '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidMetadata = new(
        DiagnosticCode.InvalidWrapperMetadata,
        "The CompressedModel item's wrapper metadata (MaxBatchSize, MaxSizes) is not valid for the model",
        "Signature sidecar '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
