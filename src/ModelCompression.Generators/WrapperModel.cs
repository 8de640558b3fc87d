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
    EquatableArray<TensorModel> Outputs,
    int? MaxBatchSize,
    EquatableArray<FreeDimension> FreeDimensions,
    string? EmbeddedResourceName)
{
    /// <summary>The class's name with its namespace, as C# spells it (no <c>global::</c>).</summary>
    public string FullName => Namespace.Length == 0 ? ClassName : Namespace + "." + ClassName;

    /// <summary>Whether shapes change at run time (batch size or free dimensions): bindings are then made per shape.</summary>
    public bool HasVariableShapes => MaxBatchSize is not null || FreeDimensions.Count > 0;
}

/// <summary>One model input or output and the members that expose it.</summary>
/// <param name="Shape">The resolved shape (first validation sample).</param>
/// <param name="DeclaredShape">Per dimension: its size, dim_param name or <c>?</c>, for the docs.</param>
/// <param name="Axes">How each dimension is sized at run time.</param>
internal sealed record TensorModel(
    string OnnxName,
    string PropertyName,
    ElementType ElementType,
    EquatableArray<long> Shape,
    int ElementCount,
    EquatableArray<string> DeclaredShape,
    EquatableArray<Axis> Axes)
{
    /// <summary>Whether axis 0 is the batch axis that <c>Run(int batchSize)</c> sets.</summary>
    public bool IsBatched => Axes.Count > 0 && Axes[0].Kind == AxisKind.Batch;
}

internal enum AxisKind
{
    /// <summary>The resolved size, always.</summary>
    Fixed,
    /// <summary>The batch size of the run.</summary>
    Batch,
    /// <summary>An input's free dimension, set with <c>SetInputSizes</c>; in an output, whatever ONNX Runtime computes.</summary>
    Free,
}

/// <param name="FreeDimension">For an input's <see cref="AxisKind.Free"/> axis, the index into <see cref="WrapperModel.FreeDimensions"/>.</param>
internal sealed record Axis(AxisKind Kind, long Size, int FreeDimension = -1);

/// <summary>A free dimension of the inputs: one parameter of <c>SetInputSizes</c>.</summary>
/// <param name="Name">The dim_param name, or a description such as <c>x axis 2</c> for an unnamed one.</param>
/// <param name="ParameterName">The camelCase C# parameter (escaped with <c>@</c> when a keyword).</param>
/// <param name="FieldName">The private field holding the current size.</param>
/// <param name="InitialSize">The size of the first validation sample (at most <paramref name="MaxSize"/>).</param>
/// <param name="MaxSize">From the MaxSizes metadata; null when buffers grow instead.</param>
internal sealed record FreeDimension(string Name, string ParameterName, string FieldName, long InitialSize, long? MaxSize);

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
