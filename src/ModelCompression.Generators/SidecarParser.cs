using System;
using System.Collections.Generic;
using System.IO;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using ModelCompression.Signatures;

namespace ModelCompression.Generators;

/// <summary>Turns one signature sidecar into a <see cref="WrapperModel"/>, or into the diagnostics that say what to fix.</summary>
internal static class SidecarParser
{
    public static bool IsSidecar(AdditionalText text) =>
        text.Path.EndsWith(SignatureSidecar.Extension, StringComparison.OrdinalIgnoreCase);

    public static SidecarParseResult Parse(AdditionalText text, WrapperMetadata metadata, CancellationToken cancellationToken) =>
        Parse(text.Path, text.GetText(cancellationToken)?.ToString(), metadata);

    public static SidecarParseResult Parse(string path, string? text, WrapperMetadata? metadata = null)
    {
        metadata ??= WrapperMetadata.None;
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

        var maxBatchSize = ParseMaxBatchSize(path, content, metadata.MaxBatchSize, diagnostics);
        var freeDimensions = FreeDimensions(content.Inputs);
        var maxSizes = ParseMaxSizes(path, content, metadata.MaxSizes, maxBatchSize is not null, freeDimensions, diagnostics);
        if (diagnostics.Count == 0) CheckLargestInputs(path, content, maxBatchSize, maxSizes, diagnostics);
        if (diagnostics.Count > 0) return new(path, null, new(diagnostics.ToArray()));

        var names = MemberNames.Assign(content.ClassName, tensors.Select(t => (t.Tensor.Name, t.IsInput)).ToList());
        var models = tensors.Select((t, i) => new TensorModel(
            t.Tensor.Name, names[i], ElementTypes.Find(t.Tensor.ElementType)!, new(t.Tensor.Shape.ToArray()), (int)ElementCount(t.Tensor.Shape)!,
            new(t.Tensor.DeclaredShape.ToArray()), Axes(t.Tensor, t.IsInput, maxBatchSize is not null, freeDimensions))).ToList();
        var model = new WrapperModel(
            content.ClassName, content.Namespace, content.ModelPath, Path.GetFileName(path),
            new(models.Take(content.Inputs.Count).ToArray()), new(models.Skip(content.Inputs.Count).ToArray()),
            maxBatchSize, new(FreeDimensionModels(freeDimensions, maxSizes)), metadata.EmbeddedResourceName.Length == 0 ? null : metadata.EmbeddedResourceName);
        return new(path, model, default);
    }

    private const string StringElementType = "string";

    private static DiagnosticInfo StringTensor(string path, string tensorName, bool isInput) =>
        new(DiagnosticDescriptors.StringTensorUnsupported, path,
            $"{(isInput ? "input" : "output")} '{tensorName}' is a string tensor, which the generated wrapper does not support: strings have no fixed size, " +
            "so they cannot live in a pinned buffer bound once. Keep strings out of the model (feed token ids as int64 and map output ids to text in C#, " +
            "e.g. with the Labels metadata for class names), or run this model with ONNX Runtime's InferenceSession directly (OrtValue.CreateFromStringTensor).");
    private static int? ParseMaxBatchSize(string path, SidecarContent content, string value, List<DiagnosticInfo> diagnostics)
    {
        if (value.Length == 0) return null;
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var maxBatchSize) || maxBatchSize < 1)
        {
            diagnostics.Add(MetadataProblem(path, $"the MaxBatchSize metadata '{value}' is not a whole number of at least 1. Set MaxBatchSize=\"8\" (the largest batch Run(int batchSize) takes) on the CompressedModel item, or remove it for a batch-1 wrapper."));
            return null;
        }
        var batched = content.Inputs.Where(i => i.Shape.Count > 0 && i.IsFree(0)).ToList();
        if (batched.Count == 0)
        {
            diagnostics.Add(MetadataProblem(path, $"the MaxBatchSize metadata is {maxBatchSize}, but no input of the model has a free batch axis (a free dimension 0): {Describe(content.Inputs)}. Remove MaxBatchSize from the CompressedModel item."));
            return null;
        }
        var tooLarge = batched.FirstOrDefault(i => ElementCount(new[] { (long)maxBatchSize }.Concat(i.Shape.Skip(1)).ToList()) is null);
        if (tooLarge is not null)
        {
            diagnostics.Add(MetadataProblem(path, $"the MaxBatchSize metadata is {maxBatchSize}, but {maxBatchSize} samples of input '{tooLarge.Name}' are more elements than a .NET array holds ({ArrayMaxLength}). Set a smaller MaxBatchSize on the CompressedModel item."));
            return null;
        }
        return maxBatchSize;
    }

    /// <summary>The inputs' free dimensions other than the batch axis, in order of appearance: one per dim_param name, one per unnamed dimension.</summary>
    private static List<FoundDimension> FreeDimensions(IReadOnlyList<SidecarTensor> inputs)
    {
        var found = new List<FoundDimension>();
        foreach (var input in inputs)
        {
            for (var axis = 1; axis < input.Shape.Count; axis++)
            {
                if (input.IsFree(axis) && FindDimension(found, input, axis) < 0)
                    found.Add(new FoundDimension(input.DeclaredShape[axis] == SidecarTensor.UnnamedDimension ? null : input.DeclaredShape[axis], input, axis));
            }
        }
        return found;
    }

    // Dimensions with the same dim_param are one size; each unnamed dimension is its own.
    private static int FindDimension(List<FoundDimension> found, SidecarTensor input, int axis) =>
        input.DeclaredShape[axis] == SidecarTensor.UnnamedDimension
            ? found.FindIndex(f => f.Input == input && f.Axis == axis)
            : found.FindIndex(f => f.DimParam == input.DeclaredShape[axis]);

    /// <summary>A free input dimension: its dim_param (null when unnamed) and where it first occurs.</summary>
    private sealed record FoundDimension(string? DimParam, SidecarTensor Input, int Axis)
    {
        public string Name => DimParam ?? $"{Input.Name} axis {Axis}";

        public long Size => Input.Shape[Axis];
    }

    private static Dictionary<string, long> ParseMaxSizes(string path, SidecarContent content, string value, bool batched,
        List<FoundDimension> freeDimensions, List<DiagnosticInfo> diagnostics)
    {
        var maxSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var named = freeDimensions.Select(f => f.DimParam).OfType<string>().ToList();
        var choices = named.Count == 0
            ? "the model's inputs have no named free dimension, so remove MaxSizes from the CompressedModel item"
            : $"the named free dimensions are {string.Join(", ", named)}, e.g. MaxSizes=\"{string.Join(";", named.Select(n => n + "=" + 1024))}\"";
        foreach (var entry in value.Split(';').Select(e => e.Trim()).Where(e => e.Length > 0))
        {
            var equals = entry.IndexOf('=');
            var name = equals < 0 ? entry : entry.Substring(0, equals).Trim();
            if (equals < 0 || !long.TryParse(entry.Substring(equals + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size < 1)
                diagnostics.Add(MetadataProblem(path, $"the MaxSizes entry '{entry}' is not 'name=size' with a whole size of at least 1; {choices}."));
            else if (!named.Contains(name))
                diagnostics.Add(MetadataProblem(path, content.Inputs.Any(i => i.Shape.Count > 0 && i.DeclaredShape[0] == name)
                    ? $"the MaxSizes entry '{entry}' names the batch axis '{name}'; set MaxBatchSize{(batched ? "" : " instead")} for the batch and {choices}."
                    : $"the MaxSizes entry '{entry}' names no free dimension of the model's inputs ({Describe(content.Inputs)}); {choices}."));
            else if (maxSizes.ContainsKey(name))
                diagnostics.Add(MetadataProblem(path, $"the MaxSizes metadata sets '{name}' twice; keep one entry."));
            else
                maxSizes.Add(name, size);
        }
        return maxSizes;
    }

    // The wrapper allocates an input whose free dimensions all have a maximum at its largest shape in its constructor
    // (checked, so too large a shape throws OverflowException there): say so at build time instead.
    private static void CheckLargestInputs(string path, SidecarContent content, int? maxBatchSize, Dictionary<string, long> maxSizes,
        List<DiagnosticInfo> diagnostics)
    {
        if (maxSizes.Count == 0) return; // MaxBatchSize alone was checked by ParseMaxBatchSize.
        foreach (var input in content.Inputs)
        {
            var batched = maxBatchSize is not null && input.Shape.Count > 0 && input.IsFree(0);
            var largest = input.Shape.Select((size, axis) =>
                axis == 0 && batched ? maxBatchSize!.Value
                : axis > 0 && input.IsFree(axis) && maxSizes.TryGetValue(input.DeclaredShape[axis], out var max) ? max
                : size).ToList();
            if (ElementCount(largest) is not null) continue;
            var count = largest.Aggregate(BigInteger.One, (product, size) => product * size);
            diagnostics.Add(MetadataProblem(path, $"the MaxSizes metadata makes input '{input.Name}' up to [{string.Join(", ", largest)}], {count} elements, " +
                $"more than a .NET array holds ({ArrayMaxLength}). Set smaller MaxSizes{(batched ? " (or a smaller MaxBatchSize)" : "")} on the CompressedModel item."));
            return;
        }
    }

    private static FreeDimension[] FreeDimensionModels(List<FoundDimension> freeDimensions, Dictionary<string, long> maxSizes)
    {
        var taken = new HashSet<string>(StringComparer.Ordinal);
        return freeDimensions.Select(f =>
        {
            var stem = MemberNames.PascalCase(f.Name, "Size");
            var pascal = stem;
            for (var n = 2; !taken.Add(pascal); n++) pascal = stem + n;
            var parameter = char.ToLowerInvariant(pascal[0]) + pascal.Substring(1);
            if (SyntaxFacts.GetKeywordKind(parameter) != SyntaxKind.None) parameter = "@" + parameter;
            long? max = f.DimParam is not null && maxSizes.TryGetValue(f.DimParam, out var m) ? m : null;
            return new FreeDimension(f.Name, parameter, "_size" + pascal, max is { } limit && limit < f.Size ? limit : f.Size, max);
        }).ToArray();
    }

    private static EquatableArray<Axis> Axes(SidecarTensor tensor, bool isInput, bool batched, List<FoundDimension> freeDimensions) =>
        new(tensor.Shape.Select((size, axis) =>
            !tensor.IsFree(axis) ? new Axis(AxisKind.Fixed, size)
            : axis == 0 ? new Axis(batched ? AxisKind.Batch : AxisKind.Fixed, size)
            : isInput ? new Axis(AxisKind.Free, size, FindDimension(freeDimensions, tensor, axis))
            : new Axis(AxisKind.Free, size)).ToArray());

    private static DiagnosticInfo MetadataProblem(string path, string detail) => new(DiagnosticDescriptors.InvalidMetadata, path, detail);

    private static string Describe(IEnumerable<SidecarTensor> tensors) =>
        string.Join(", ", tensors.Select(t => $"'{t.Name}' [{string.Join(", ", t.DeclaredShape)}]"));

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
