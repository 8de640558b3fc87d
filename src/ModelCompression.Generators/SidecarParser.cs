using System;
using System.Collections.Generic;
using System.IO;
using System.Globalization;
using System.Linq;
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
            if (TensorProblem(tensor) is { } problem)
                diagnostics.Add(new(DiagnosticDescriptors.SignatureInvalid, path, $"{(isInput ? "input" : "output")} '{tensor.Name}' {problem}"));
        }
        if (diagnostics.Count > 0) return new(path, null, new(diagnostics.ToArray()));

        var maxBatchSize = ParseMaxBatchSize(path, content, metadata.MaxBatchSize, diagnostics);
        var freeDimensions = FreeDimensions(content.Inputs);
        var maxSizes = ParseMaxSizes(path, content, metadata.MaxSizes, maxBatchSize is not null, freeDimensions, diagnostics);
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
    private static List<(string Key, string Description, long Size)> FreeDimensions(IReadOnlyList<SidecarTensor> inputs)
    {
        var found = new List<(string Key, string Description, long Size)>();
        foreach (var input in inputs)
        {
            for (var axis = 0; axis < input.Shape.Count; axis++)
            {
                if (!input.IsFree(axis) || axis == 0) continue;
                var key = FreeDimensionKey(input, axis);
                if (found.All(f => f.Key != key))
                    found.Add((key, input.DeclaredShape[axis] == SidecarTensor.UnnamedDimension ? $"{input.Name} axis {axis}" : key, input.Shape[axis]));
            }
        }
        return found;
    }

    // Dimensions with the same dim_param are one size; each unnamed dimension is its own (the key says which: '?' and a tab never occur in a name).
    private static string FreeDimensionKey(SidecarTensor input, int axis) =>
        input.DeclaredShape[axis] == SidecarTensor.UnnamedDimension ? $"?\t{input.Name}\t{axis}" : input.DeclaredShape[axis];

    private static Dictionary<string, long> ParseMaxSizes(string path, SidecarContent content, string value, bool batched,
        List<(string Key, string Description, long Size)> freeDimensions, List<DiagnosticInfo> diagnostics)
    {
        var maxSizes = new Dictionary<string, long>(StringComparer.Ordinal);
        var named = freeDimensions.Where(f => !f.Key.StartsWith("?\t", StringComparison.Ordinal)).Select(f => f.Key).ToList();
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

    private static FreeDimension[] FreeDimensionModels(List<(string Key, string Description, long Size)> freeDimensions, Dictionary<string, long> maxSizes)
    {
        var taken = new HashSet<string>(StringComparer.Ordinal);
        return freeDimensions.Select(f =>
        {
            var stem = MemberNames.PascalCase(f.Description, "Size");
            var pascal = stem;
            for (var n = 2; !taken.Add(pascal); n++) pascal = stem + n;
            var parameter = char.ToLowerInvariant(pascal[0]) + pascal.Substring(1);
            if (SyntaxFacts.GetKeywordKind(parameter) != SyntaxKind.None) parameter = "@" + parameter;
            long? max = maxSizes.TryGetValue(f.Key, out var m) ? m : null;
            return new FreeDimension(f.Description, parameter, "_size" + pascal, max is { } limit && limit < f.Size ? limit : f.Size, max);
        }).ToArray();
    }

    private static EquatableArray<Axis> Axes(SidecarTensor tensor, bool isInput, bool batched, List<(string Key, string Description, long Size)> freeDimensions) =>
        new(tensor.Shape.Select((size, axis) =>
            !tensor.IsFree(axis) ? new Axis(AxisKind.Fixed, size)
            : axis == 0 ? new Axis(batched ? AxisKind.Batch : AxisKind.Fixed, size)
            : isInput ? new Axis(AxisKind.Free, size, freeDimensions.FindIndex(f => f.Key == FreeDimensionKey(tensor, axis)))
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
