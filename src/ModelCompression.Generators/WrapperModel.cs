using Microsoft.CodeAnalysis;

namespace ModelCompression.Generators;

// The equatable model between parser and emitter: plain strings and numbers only (no symbols, no
// SourceText), so that an unchanged sidecar yields an equal model and the pipeline stops there.

/// <summary>Everything the emitter needs to write one wrapper class.</summary>
internal sealed record WrapperModel(
    string ClassName,
    string Namespace,
    string ModelPath,
    string SidecarFileName,
    EquatableArray<TensorModel> Inputs,
    EquatableArray<TensorModel> Outputs)
{
    /// <summary>The class's name with its namespace, as C# spells it (no <c>global::</c>).</summary>
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;
}

/// <summary>One model input or output and the members that expose it.</summary>
internal sealed record TensorModel(
    string OnnxName,
    string PropertyName,
    ElementType ElementType,
    EquatableArray<long> Shape,
    int ElementCount);

/// <summary>An ONNX element type the wrapper can bind: its sidecar name, C# type and ORT <c>TensorElementType</c> member.</summary>
internal sealed record ElementType(string OnnxName, string CSharpName, string OrtName);

/// <summary>A diagnostic to report, kept as values so that it caches with the rest of the model.</summary>
internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, string SidecarPath, string Detail)
{
    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Descriptor, Location.Create(SidecarPath, default, default), SidecarPath, Detail);
}

/// <summary>What one sidecar parses into: a model to emit, or the diagnostics that explain why not.</summary>
internal sealed record SidecarParseResult(string SidecarPath, WrapperModel? Model, EquatableArray<DiagnosticInfo> Diagnostics);
