// Shared by the worker (writes) and the source generator (reads): keep it netstandard2.0-compatible.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace ModelCompression.Signatures;

/// <summary>One input or output of the compressed model, with every dimension fixed.</summary>
public sealed class SidecarTensor
{
    public SidecarTensor(string name, string elementType, IReadOnlyList<long> shape)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
    }

    /// <summary>The ONNX name, exactly as the model spells it.</summary>
    public string Name { get; }

    /// <summary>float, float16, double, int8, int16, int32, int64, uint8, uint16, uint32, uint64 or bool.</summary>
    public string ElementType { get; }

    public IReadOnlyList<long> Shape { get; }
}

/// <summary>What the generator needs to emit a wrapper: the class, where the model lives, and its signature.</summary>
public sealed class SidecarContent
{
    public SidecarContent(string className, string @namespace, string modelPath, IReadOnlyList<SidecarTensor> inputs, IReadOnlyList<SidecarTensor> outputs)
    {
        ClassName = className;
        Namespace = @namespace;
        ModelPath = modelPath;
        Inputs = inputs;
        Outputs = outputs;
    }

    public string ClassName { get; }

    /// <summary>The namespace of the class; empty for the global namespace.</summary>
    public string Namespace { get; }

    /// <summary>The compressed model's path relative to the application directory, with '/' separators.</summary>
    public string ModelPath { get; }

    public IReadOnlyList<SidecarTensor> Inputs { get; }

    public IReadOnlyList<SidecarTensor> Outputs { get; }
}

/// <summary>
/// The signature sidecar (<c>*.mcsig</c>): a small line-based text file the worker writes beside the
/// compressed model and the generator reads as an AdditionalFile. One record per line, fields
/// separated by tabs, with <c>\\</c>, <c>\t</c>, <c>\n</c>, <c>\r</c> escaped inside fields:
/// <code>
/// modelcompression-signature	1
/// class	FashionCnn
/// namespace	FashionClassifier
/// model	Models/fashion-cnn.onnx
/// input	input	float	1,1,28,28
/// output	logits	float	1,10
/// </code>
/// Line-based on purpose: the generator reads it with no JSON dependency inside the compiler.
/// </summary>
public static class SignatureSidecar
{
    public const string Extension = ".mcsig";
    public const string Header = "modelcompression-signature";
    public const int Version = 1;

    public static string Write(SidecarContent content)
    {
        var text = new StringBuilder();
        AppendRecord(text, Header, Version.ToString(CultureInfo.InvariantCulture));
        AppendRecord(text, "class", content.ClassName);
        AppendRecord(text, "namespace", content.Namespace);
        AppendRecord(text, "model", content.ModelPath);
        foreach (var input in content.Inputs) AppendTensor(text, "input", input);
        foreach (var output in content.Outputs) AppendTensor(text, "output", output);
        return text.ToString();
    }

    /// <summary>Parses a sidecar; throws <see cref="FormatException"/> saying which line is wrong.</summary>
    public static SidecarContent Read(string text)
    {
        string? className = null, ns = null, modelPath = null;
        var inputs = new List<SidecarTensor>();
        var outputs = new List<SidecarTensor>();
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var sawHeader = false;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var fields = lines[i].Split('\t').Select(Unescape).ToArray();
            var lineNumber = i + 1;
            if (!sawHeader)
            {
                if (fields[0] != Header || fields.Length != 2)
                    throw new FormatException($"line {lineNumber}: expected '{Header}<TAB>{Version}'.");
                if (fields[1] != Version.ToString(CultureInfo.InvariantCulture))
                    throw new FormatException($"line {lineNumber}: version {fields[1]} is not supported (expected {Version}); rebuild with the same ModelCompression.Build version.");
                sawHeader = true;
                continue;
            }
            switch (fields[0])
            {
                case "class": className = Single(fields, lineNumber); break;
                case "namespace": ns = Single(fields, lineNumber); break;
                case "model": modelPath = Single(fields, lineNumber); break;
                case "input": inputs.Add(ParseTensor(fields, lineNumber)); break;
                case "output": outputs.Add(ParseTensor(fields, lineNumber)); break;
                default: throw new FormatException($"line {lineNumber}: unknown record '{fields[0]}'.");
            }
        }
        if (!sawHeader) throw new FormatException($"the file is empty; expected '{Header}<TAB>{Version}'.");
        if (className is null) throw new FormatException("no 'class' record.");
        if (modelPath is null) throw new FormatException("no 'model' record.");
        if (outputs.Count == 0) throw new FormatException("no 'output' record.");
        return new SidecarContent(className, ns ?? "", modelPath, inputs, outputs);
    }

    private static string Single(string[] fields, int lineNumber) =>
        fields.Length == 2 ? fields[1] : throw new FormatException($"line {lineNumber}: '{fields[0]}' takes one value.");

    private static SidecarTensor ParseTensor(string[] fields, int lineNumber)
    {
        if (fields.Length != 4)
            throw new FormatException($"line {lineNumber}: '{fields[0]}' takes a name, an element type and a shape.");
        var shape = new List<long>();
        if (fields[3].Length > 0)
        {
            foreach (var dim in fields[3].Split(','))
            {
                if (!long.TryParse(dim, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                    throw new FormatException($"line {lineNumber}: dimension '{dim}' is not a non-negative integer.");
                shape.Add(value);
            }
        }
        return new SidecarTensor(fields[1], fields[2], shape);
    }

    private static void AppendTensor(StringBuilder text, string kind, SidecarTensor tensor) =>
        AppendRecord(text, kind, tensor.Name, tensor.ElementType,
            string.Join(",", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))));

    private static void AppendRecord(StringBuilder text, params string[] fields) =>
        text.Append(string.Join("\t", fields.Select(Escape))).Append('\n');

    private static string Escape(string field) =>
        field.Replace("\\", "\\\\").Replace("\t", "\\t").Replace("\n", "\\n").Replace("\r", "\\r");

    private static string Unescape(string field)
    {
        if (field.IndexOf('\\') < 0) return field;
        var result = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] != '\\' || i + 1 == field.Length) { result.Append(field[i]); continue; }
            var next = field[++i];
            result.Append(next switch { 't' => '\t', 'n' => '\n', 'r' => '\r', _ => next });
        }
        return result.ToString();
    }
}
