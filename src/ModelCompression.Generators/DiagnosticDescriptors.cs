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

    public static readonly DiagnosticDescriptor StringTensorUnsupported = new(
        DiagnosticCode.StringTensorUnsupported,
        "The wrapper does not support string tensors",
        "Signature sidecar '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LabelsCountMismatch = new(
        DiagnosticCode.LabelsCountMismatch,
        "The labels file does not hold one label per class",
        "Labels file '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    // A warning: the wrapper is still right without the labels, they are just not used.
    public static readonly DiagnosticDescriptor LabelsWithoutClassScores = new(
        DiagnosticCode.LabelsWithoutClassScores,
        "The model has no class-score output for the labels",
        "Labels file '{0}': {1}",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);
    public static readonly DiagnosticDescriptor InvalidMetadata = new(
        DiagnosticCode.InvalidWrapperMetadata,
        "The CompressedModel item's wrapper metadata (MaxBatchSize, MaxSizes) is not valid for the model",
        "Signature sidecar '{0}': {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
