using System;
using System.Linq;

namespace ModelCompression.Generators;

/// <summary>The element types the wrapper binds to pinned arrays: those with a blittable .NET counterpart.</summary>
internal static class ElementTypes
{
    public static readonly EquatableArray<ElementType> Supported = new(
    [
        new("float", "float", "Float"),
        new("float16", "global::System.Half", "Float16"),
        new("double", "double", "Double"),
        new("int8", "sbyte", "Int8"),
        new("int16", "short", "Int16"),
        new("int32", "int", "Int32"),
        new("int64", "long", "Int64"),
        new("uint8", "byte", "UInt8"),
        new("uint16", "ushort", "UInt16"),
        new("uint32", "uint", "UInt32"),
        new("uint64", "ulong", "UInt64"),
        new("bool", "bool", "Bool"),
    ]);

    public static ElementType? Find(string onnxName) =>
        Supported.FirstOrDefault(t => string.Equals(t.OnnxName, onnxName, StringComparison.Ordinal));

    public static string SupportedNames => string.Join(", ", Supported.Select(t => t.OnnxName));
}
