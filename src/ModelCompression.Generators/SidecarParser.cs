using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using ModelCompression.Signatures;

namespace ModelCompression.Generators;

/// <summary>Turns one signature sidecar into a <see cref="WrapperModel"/>, or into the diagnostics that say what to fix.</summary>
internal static class SidecarParser
{
    public static bool IsSidecar(AdditionalText text) =>
        text.Path.EndsWith(SignatureSidecar.Extension, StringComparison.OrdinalIgnoreCase);

    public static SidecarParseResult Parse(AdditionalText text, CancellationToken cancellationToken) =>
        Parse(text.Path, text.GetText(cancellationToken)?.ToString());

    public static SidecarParseResult Parse(string path, string? text)
    {
        if (text is null)
            return Failed(path, new DiagnosticInfo(DiagnosticDescriptors.SignatureInvalid, path, "the file cannot be read. Rebuild so that ModelCompression.Build writes it again."));

        SidecarContent content;
        try
        {
            content = SignatureSidecar.Read(text);
        }
        catch (FormatException e)
        {
            return Failed(path, new DiagnosticInfo(DiagnosticDescriptors.SignatureInvalid, path, $"{e.Message} Rebuild so that ModelCompression.Build writes it again."));
        }

        var diagnostics = new List<DiagnosticInfo>();
        if (TypeNames.ClassNameProblem(content.ClassName) is { } classProblem)
            diagnostics.Add(new(DiagnosticDescriptors.InvalidTypeName, path,
                $"the class name '{content.ClassName}' {classProblem}. Set the ClassName metadata of the CompressedModel item to a valid class name, e.g. ClassName=\"FashionCnn\"."));
        if (TypeNames.NamespaceProblem(content.Namespace) is { } namespaceProblem)
            diagnostics.Add(new(DiagnosticDescriptors.InvalidTypeName, path,
                $"the namespace '{content.Namespace}' {namespaceProblem}. Set the Namespace metadata of the CompressedModel item (or the project's RootNamespace) to a valid namespace, e.g. Namespace=\"MyApp.Models\"."));

        var tensors = content.Inputs.Select(t => (Tensor: t, IsInput: true))
            .Concat(content.Outputs.Select(t => (Tensor: t, IsInput: false)))
            .ToList();
        foreach (var (tensor, isInput) in tensors)
        {
            if (tensor.ElementType == StringElementType)
                diagnostics.Add(StringTensor(path, tensor.Name, isInput));
            else if (TensorProblem(tensor) is { } problem)
                diagnostics.Add(new(DiagnosticDescriptors.SignatureInvalid, path, $"{(isInput ? "input" : "output")} '{tensor.Name}' {problem}"));
        }
        if (diagnostics.Count > 0) return new(path, null, new(diagnostics.ToArray()));

        var names = MemberNames.Assign(content.ClassName, tensors.Select(t => (t.Tensor.Name, t.IsInput)).ToList());
        var models = tensors.Select((t, i) => new TensorModel(
            t.Tensor.Name, names[i], ElementTypes.Find(t.Tensor.ElementType)!, new(t.Tensor.Shape.ToArray()), (int)ElementCount(t.Tensor.Shape)!)).ToList();
        var model = new WrapperModel(
            content.ClassName, content.Namespace, content.ModelPath, Path.GetFileName(path),
            new(models.Take(content.Inputs.Count).ToArray()), new(models.Skip(content.Inputs.Count).ToArray()));
        return new(path, model, default);
    }

    private const string StringElementType = "string";

    private static DiagnosticInfo StringTensor(string path, string tensorName, bool isInput) =>
        new(DiagnosticDescriptors.StringTensorUnsupported, path,
            $"{(isInput ? "input" : "output")} '{tensorName}' is a string tensor, which the generated wrapper does not support: strings have no fixed size, " +
            "so they cannot live in a pinned buffer bound once. Keep strings out of the model (feed token ids as int64 and map output ids to text in C#, " +
            "e.g. with the Labels metadata for class names), or run this model with ONNX Runtime's InferenceSession directly (OrtValue.CreateFromStringTensor).");

    private static string? TensorProblem(SidecarTensor tensor)
    {
        if (ElementTypes.Find(tensor.ElementType) is null)
            return $"has element type '{tensor.ElementType}', which the generated wrapper cannot bind to a pinned .NET array (it binds {ElementTypes.SupportedNames}). " +
                   "Use ONNX Runtime's InferenceSession directly for this model, or change the model to use one of those types.";
        if (ElementCount(tensor.Shape) is null)
            return $"has shape [{string.Join(",", tensor.Shape)}], more elements than a .NET array holds ({ArrayMaxLength}). " +
                   "Use ONNX Runtime's InferenceSession directly for this model.";
        return null;
    }

    // The largest length of a one-dimensional array of a primitive type (Array.MaxLength on .NET 6+).
    private const long ArrayMaxLength = 0x7FFFFFC7;

    /// <summary>The product of the dimensions (1 for a scalar), or null when no array can hold that many elements.</summary>
    private static long? ElementCount(IReadOnlyList<long> shape)
    {
        long count = 1;
        foreach (var dimension in shape)
        {
            if (dimension != 0 && count > ArrayMaxLength / dimension) return null;
            count *= dimension;
        }
        return count;
    }

    private static SidecarParseResult Failed(string path, DiagnosticInfo diagnostic) => new(path, null, new([diagnostic]));
}
