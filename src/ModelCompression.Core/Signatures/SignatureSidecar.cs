// Shared by the worker (writes) and the source generator (reads): keep it netstandard2.0-compatible.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace ModelCompression.Signatures;

/// <summary>One input or output of the compressed model: its resolved shape (every dimension fixed) and its declared shape.</summary>
public sealed class SidecarTensor
{
    /// <summary>What the model's graph declares for an unnamed free dimension.</summary>
    public const string UnnamedDimension = "?";

    /// <param name="declaredShape">Per dimension: its size, its dim_param name, or <see cref="UnnamedDimension"/>;
    /// null when every dimension is fixed (the declared shape is then <paramref name="shape"/>).</param>
    public SidecarTensor(string name, string elementType, IReadOnlyList<long> shape, IReadOnlyList<string>? declaredShape = null)
    {
        Name = name;
        ElementType = elementType;
        Shape = shape;
        DeclaredShape = declaredShape ?? shape.Select(d => d.ToString(CultureInfo.InvariantCulture)).ToList();
    }

    /// <summary>The ONNX name, exactly as the model spells it.</summary>
    public string Name { get; }

    /// <summary>float, float16, double, int8, int16, int32, int64, uint8, uint16, uint32, uint64 or bool.</summary>
    public string ElementType { get; }

    /// <summary>The shape of the first batch-1 validation sample (or, without data, of zeros at the fixed sizes).</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The shape the model's graph declares, as <see cref="Shape"/> has it: per dimension its size (digits),
    /// its dim_param name (such as <c>W</c>), or <see cref="UnnamedDimension"/>. Free dimensions are those that are not digits.</summary>
    public IReadOnlyList<string> DeclaredShape { get; }

    /// <summary>Whether the graph leaves dimension <paramref name="axis"/> free.</summary>
    public bool IsFree(int axis) => !IsSize(DeclaredShape[axis]);

    internal static bool IsSize(string dimension) =>
        dimension.Length > 0 && dimension.All(c => c is >= '0' and <= '9');
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
/// modelcompression-signature	2
/// class	PpocrRec
/// namespace	Ocr
/// model	Models/ppocr-rec.onnx
/// input	x	float	1,3,48,320	N,3,48,W
/// output	softmax_11.tmp_0	float	1,40,6625	N,?,6625
/// </code>
/// A tensor record holds the name, the element type, the resolved shape and (from version 2) the declared shape.
/// Version 1 files, without the declared shape, are still read: every dimension is then fixed.
/// Line-based on purpose: the generator reads it with no JSON dependency inside the compiler.
/// </summary>
public static class SignatureSidecar
{
    public const string Extension = ".mcsig";
    public const string Header = "modelcompression-signature";
    public const int Version = 2;

    /// <summary>The first version, whose tensor records have no declared shape.</summary>
    private const int VersionWithoutDeclaredShape = 1;

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
        int? version = null;
        for (var i = 0; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            var fields = lines[i].Split('\t').Select(Unescape).ToArray();
            var lineNumber = i + 1;
            if (version is null)
            {
                version = ReadHeader(fields, lineNumber);
                continue;
            }
            var hasDeclaredShape = version != VersionWithoutDeclaredShape;
            switch (fields[0])
            {
                case "class": className = Single(fields, lineNumber); break;
                case "namespace": ns = Single(fields, lineNumber); break;
                case "model": modelPath = Single(fields, lineNumber); break;
                case "input": inputs.Add(ParseTensor(fields, lineNumber, hasDeclaredShape)); break;
                case "output": outputs.Add(ParseTensor(fields, lineNumber, hasDeclaredShape)); break;
                default: throw new FormatException($"line {lineNumber}: unknown record '{fields[0]}'.");
            }
        }
        if (version is null) throw new FormatException($"the file is empty; expected '{Header}<TAB>{Version}'.");
        if (className is null) throw new FormatException("no 'class' record.");
        if (modelPath is null) throw new FormatException("no 'model' record.");
        if (outputs.Count == 0) throw new FormatException("no 'output' record.");
        return new SidecarContent(className, ns ?? "", modelPath, inputs, outputs);
    }

    private static string Single(string[] fields, int lineNumber) =>
        fields.Length == 2 ? fields[1] : throw new FormatException($"line {lineNumber}: '{fields[0]}' takes one value.");

    private static int ReadHeader(string[] fields, int lineNumber)
    {
        if (fields[0] != Header || fields.Length != 2)
            throw new FormatException($"line {lineNumber}: expected '{Header}<TAB>{Version}'.");
        if (fields[1] == Version.ToString(CultureInfo.InvariantCulture)) return Version;
        if (fields[1] == VersionWithoutDeclaredShape.ToString(CultureInfo.InvariantCulture)) return VersionWithoutDeclaredShape;
        throw new FormatException($"line {lineNumber}: version {fields[1]} is not supported (expected {VersionWithoutDeclaredShape} or {Version}); rebuild with the same ModelCompression.Build version.");
    }

    private static SidecarTensor ParseTensor(string[] fields, int lineNumber, bool hasDeclaredShape)
    {
        if (fields.Length != (hasDeclaredShape ? 5 : 4))
            throw new FormatException(hasDeclaredShape
                ? $"line {lineNumber}: '{fields[0]}' takes a name, an element type, a shape and a declared shape."
                : $"line {lineNumber}: '{fields[0]}' takes a name, an element type and a shape.");
        var shape = new List<long>();
        foreach (var dim in Dimensions(fields[3]))
        {
            if (!long.TryParse(dim, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                throw new FormatException($"line {lineNumber}: dimension '{dim}' is not a non-negative integer.");
            shape.Add(value);
        }
        if (!hasDeclaredShape) return new SidecarTensor(fields[1], fields[2], shape);

        var declared = Dimensions(fields[4]);
        if (declared.Length != shape.Count)
            throw new FormatException($"line {lineNumber}: the declared shape has {declared.Length} dimensions, the shape {shape.Count}.");
        for (var axis = 0; axis < declared.Length; axis++)
        {
            if (declared[axis].Length == 0)
                throw new FormatException($"line {lineNumber}: declared dimension {axis} is empty (expected a size, a name or '{SidecarTensor.UnnamedDimension}').");
            if (SidecarTensor.IsSize(declared[axis]) && declared[axis] != shape[axis].ToString(CultureInfo.InvariantCulture))
                throw new FormatException($"line {lineNumber}: declared dimension {axis} is {declared[axis]}, but the shape has {shape[axis]}.");
        }
        return new SidecarTensor(fields[1], fields[2], shape, declared);
    }

    private static string[] Dimensions(string field) => field.Length == 0 ? [] : field.Split(',');

    private static void AppendTensor(StringBuilder text, string kind, SidecarTensor tensor) =>
        AppendRecord(text, kind, tensor.Name, tensor.ElementType,
            string.Join(",", tensor.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture))),
            string.Join(",", tensor.DeclaredShape));

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
