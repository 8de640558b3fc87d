using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Graph;

/// <summary>Typed reads and writes of a node's attributes, with the defaults the ONNX operator specs give.</summary>
public static class NodeAttributes
{
    public static AttributeProto? Find(this NodeProto node, string name)
    {
        foreach (var attribute in node.Attribute)
            if (attribute.Name == name) return attribute;
        return null;
    }

    public static bool Has(this NodeProto node, string name) => node.Find(name) is not null;

    public static long GetInt(this NodeProto node, string name, long defaultValue) =>
        node.Find(name) is { } a ? a.I : defaultValue;

    public static float GetFloat(this NodeProto node, string name, float defaultValue) =>
        node.Find(name) is { } a ? a.F : defaultValue;

    public static string GetString(this NodeProto node, string name, string defaultValue) =>
        node.Find(name) is { } a ? a.S.ToStringUtf8() : defaultValue;

    /// <summary>An INTS attribute, or null when the node does not set it.</summary>
    public static long[]? GetInts(this NodeProto node, string name) =>
        node.Find(name) is { } a ? a.Ints.ToArray() : null;

    /// <summary>Sets (adds or replaces) an attribute; the value follows <see cref="OnnxFactory.Attribute"/>.</summary>
    public static void SetAttribute(this NodeProto node, string name, object value)
    {
        var attribute = OnnxFactory.Attribute(name, value);
        for (var i = 0; i < node.Attribute.Count; i++)
        {
            if (node.Attribute[i].Name != name) continue;
            node.Attribute[i] = attribute;
            return;
        }
        node.Attribute.Add(attribute);
    }

    public static void RemoveAttribute(this NodeProto node, string name)
    {
        for (var i = node.Attribute.Count - 1; i >= 0; i--)
            if (node.Attribute[i].Name == name) node.Attribute.RemoveAt(i);
    }

    /// <summary>Whether the node belongs to the default ONNX operator set (domain "" or "ai.onnx").</summary>
    public static bool IsStandard(this NodeProto node) => node.Domain is "" or "ai.onnx";

    /// <summary>The node's input at <paramref name="index"/>, or "" when absent (optional inputs may be omitted or empty).</summary>
    public static string InputOrEmpty(this NodeProto node, int index) => index < node.Input.Count ? node.Input[index] : "";

    public static string OutputOrEmpty(this NodeProto node, int index) => index < node.Output.Count ? node.Output[index] : "";
}
