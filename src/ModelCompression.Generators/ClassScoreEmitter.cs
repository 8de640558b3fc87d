using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Microsoft.CodeAnalysis.CSharp;

namespace ModelCompression.Generators;

/// <summary>An output of shape [N, C] (C ≥ 2 classes, floating-point scores): it gets ArgMax and TopK helpers.</summary>
internal sealed record ClassScoreOutput(TensorModel Tensor, int Classes);

/// <summary>
/// Writes the class-score helpers as a second part of the wrapper class: <c>{Output}ArgMax</c>, <c>{Output}TopK</c>,
/// and with a labels file <c>Labels</c> and <c>{Output}ArgMaxLabel</c>. They read the output span property, so they
/// see whatever batch the last run produced, and allocate nothing.
/// </summary>
internal static class ClassScoreEmitter
{
    // The ONNX element types whose scores compare with C#'s operators (System.Half defines them too).
    private static readonly string[] ScoreTypes = ["float", "double", "float16"];

    public static IReadOnlyList<ClassScoreOutput> Find(WrapperModel model) =>
        model.Outputs
            .Where(t => t.Shape.Count == 2 && t.Shape[1] >= 2 && ScoreTypes.Contains(t.ElementType.OnnxName))
            .Select(t => new ClassScoreOutput(t, (int)t.Shape[1]))
            .ToList();

    /// <summary>Why <paramref name="labels"/> cannot be used with this model, or null when an output has one class per label.</summary>
    public static DiagnosticInfo? LabelsProblem(WrapperModel model, LabelsFile labels)
    {
        var outputs = Find(model);
        if (outputs.Count == 0)
            return new(DiagnosticDescriptors.LabelsWithoutClassScores, labels.Path,
                $"the model of class '{model.FullName}' has no class-score output (shape [N, C] of float, double or float16, C ≥ 2), so its labels are not used. " +
                "Remove the Labels metadata from its CompressedModel item.");
        if (outputs.Any(o => o.Classes == labels.Labels.Count)) return null;
        var classes = string.Join(", ", outputs.Select(o => $"{o.Tensor.OnnxName}: {o.Classes.ToString(CultureInfo.InvariantCulture)}"));
        return new(DiagnosticDescriptors.LabelsCountMismatch, labels.Path,
            $"it holds {labels.Labels.Count.ToString(CultureInfo.InvariantCulture)} labels, but the class-score outputs of '{model.FullName}' have other class counts ({classes}). " +
            "Write one class name per line, one line per class, in class index order.");
    }

    /// <summary>The helpers' source, or null when the model has no class-score output.</summary>
    /// <param name="labels">Labels that <see cref="LabelsProblem"/> accepted, or null.</param>
    public static string? Emit(WrapperModel model, LabelsFile? labels)
    {
        var outputs = Find(model);
        if (outputs.Count == 0) return null;
        return GeneratedFile.Write(model, code =>
        {
            code.Line($"public sealed partial class {model.ClassName}");
            code.Open();
            if (labels is not null) EmitLabels(code, labels);
            foreach (var output in outputs)
            {
                EmitArgMax(code, output);
                EmitTopK(code, output);
                if (labels?.Labels.Count == output.Classes) EmitArgMaxLabel(code, output);
            }
            code.Close();
        });
    }

    private static void EmitLabels(WrapperEmitter.CodeWriter code, LabelsFile labels)
    {
        code.Line($"/// <summary>The class names, in class index order, from the labels file <c>{WrapperEmitter.Xml(System.IO.Path.GetFileName(labels.Path))}</c>.</summary>");
        code.Line("public static global::System.Collections.Generic.IReadOnlyList<string> Labels { get; } = global::System.Array.AsReadOnly(new string[]");
        code.Open();
        foreach (var label in labels.Labels) code.Line(SymbolDisplay.FormatLiteral(label, quote: true) + ",");
        code.Close(");");
        code.Line();
    }

    private static void EmitArgMax(WrapperEmitter.CodeWriter code, ClassScoreOutput output)
    {
        var property = output.Tensor.PropertyName;
        code.Line($"/// <summary>The class with the highest score in <see cref=\"{property}\"/> for one sample (the lower index on ties). Allocates nothing.</summary>");
        EmitSampleDocs(code);
        code.Line($"public int {MemberNames.ArgMaxName(property)}(int sample = 0)");
        code.Open();
        EmitScoresOfSample(code, output);
        code.Line("var best = 0;");
        code.Line("for (var i = 1; i < scores.Length; i++)");
        code.Line("    if (scores[i] > scores[best]) best = i;");
        code.Line("return best;");
        code.Close();
        code.Line();
    }

    private static void EmitTopK(WrapperEmitter.CodeWriter code, ClassScoreOutput output)
    {
        var property = output.Tensor.PropertyName;
        var classes = output.Classes.ToString(CultureInfo.InvariantCulture);
        code.Line($"/// <summary>Writes the classes with the <c>indices.Length</c> highest scores in <see cref=\"{property}\"/> for one sample, best first (the lower index first on ties). Allocates nothing.</summary>");
        code.Line($"/// <param name=\"indices\">Receives the class indices; its length is k, at most {classes}.</param>");
        EmitSampleDocs(code);
        code.Line($"/// <exception cref=\"global::System.ArgumentException\"><paramref name=\"indices\"/> is longer than the {classes} classes.</exception>");
        code.Line($"public void {MemberNames.TopKName(property)}(global::System.Span<int> indices, int sample = 0)");
        code.Open();
        code.Line($"if (indices.Length > {classes}) throw new global::System.ArgumentException(\"k (the length of indices) is larger than the number of classes, {classes}.\", nameof(indices));");
        EmitScoresOfSample(code, output);
        code.Line("var count = 0;");
        code.Line("for (var i = 0; i < scores.Length; i++)");
        code.Open();
        code.Line("// Insertion into the sorted prefix: a class moves up only past strictly lower scores, so ties keep the lower index first.");
        code.Line("var position = count;");
        code.Line("while (position > 0 && scores[i] > scores[indices[position - 1]]) position--;");
        code.Line("if (position == indices.Length) continue;");
        code.Line("if (count < indices.Length) count++;");
        code.Line("for (var j = count - 1; j > position; j--) indices[j] = indices[j - 1];");
        code.Line("indices[position] = i;");
        code.Close();
        code.Close();
        code.Line();
    }

    private static void EmitArgMaxLabel(WrapperEmitter.CodeWriter code, ClassScoreOutput output)
    {
        var property = output.Tensor.PropertyName;
        code.Line($"/// <summary>The name (from <see cref=\"Labels\"/>) of the class <see cref=\"{MemberNames.ArgMaxName(property)}\"/> returns. Allocates nothing.</summary>");
        EmitSampleDocs(code);
        code.Line($"public string {MemberNames.ArgMaxLabelName(property)}(int sample = 0) => Labels[{MemberNames.ArgMaxName(property)}(sample)];");
        code.Line();
    }

    private static void EmitSampleDocs(WrapperEmitter.CodeWriter code)
    {
        code.Line("/// <param name=\"sample\">The sample's index in the batch of the last run (0 for a batch of one).</param>");
        code.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\"><paramref name=\"sample\"/> is not a sample of the last run's batch.</exception>");
    }

    // Declares `scores`: the sample's C scores. The output span holds (batch size) × C scores from sample 0.
    private static void EmitScoresOfSample(WrapperEmitter.CodeWriter code, ClassScoreOutput output)
    {
        var classes = output.Classes.ToString(CultureInfo.InvariantCulture);
        code.Line($"var all = {output.Tensor.PropertyName};");
        code.Line($"if ((uint)sample >= (uint)(all.Length / {classes})) throw new global::System.ArgumentOutOfRangeException(nameof(sample), sample, \"The output holds fewer samples.\");");
        code.Line($"var scores = all.Slice(sample * {classes}, {classes});");
    }
}
