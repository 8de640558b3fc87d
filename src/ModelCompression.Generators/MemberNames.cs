using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace ModelCompression.Generators;

/// <summary>
/// Names the span property of each tensor. The rule, applied to inputs then outputs in model order:
/// <list type="number">
/// <item>Split the ONNX name into runs of letters and digits (every other character separates), upper-case the
/// first character of each run and join them: <c>softmax_11.tmp_0</c> → <c>Softmax11Tmp0</c>, <c>stateN</c> → <c>StateN</c>.</item>
/// <item>If that is empty or starts with a digit, prefix <c>Input</c> or <c>Output</c>: <c>123</c> → <c>Output123</c>.</item>
/// <item>Each tensor also declares <c>{Name}Shape</c> and <c>{Name}Length</c>, and reserves <c>{Name}SampleLength</c>
/// (declared by batched wrappers) and the class-score helper names
/// <c>{Name}ArgMax</c>, <c>{Name}ArgMaxLabel</c> and <c>{Name}TopK</c>. If any of these names is the class
/// name, a member every wrapper has (<see cref="Reserved"/>) or a name an earlier tensor took, append 2, 3, … until none
/// is: <c>x</c> and <c>X</c> → <c>X</c> and <c>X2</c>.</item>
/// </list>
/// The result is always a valid identifier and never a keyword (keywords are lower-case).
/// Private members derive from these names with a prefix and a suffix that no public name has, so they cannot collide.
/// </summary>
internal static class MemberNames
{
    /// <summary>Members every wrapper declares or inherits from <see cref="object"/>: a property of that name would not compile or would hide it.</summary>
    public static readonly IReadOnlyCollection<string> Reserved =
    [
        "ModelPath", "Run", "Dispose", "CreatePinnedTensor", "Labels",
        // Members of wrappers with an embedded model or variable shapes.
        "EmbeddedResourceName", "ReadEmbeddedModel", "MaxBatchSize", "SetInputSizes", "RunBatch", "BindAndRun", "BindOutput",
        "ResizeInputs", "ReleaseBindings", "ElementCount", "Binding",
        "Equals", "GetHashCode", "GetType", "ToString", "MemberwiseClone", "ReferenceEquals", "Finalize",
    ];

    /// <summary>One property name per tensor, in the order given.</summary>
    public static string[] Assign(string className, IReadOnlyList<(string OnnxName, bool IsInput)> tensors)
    {
        var taken = new HashSet<string>(Reserved, System.StringComparer.Ordinal) { className };
        var names = new string[tensors.Count];
        for (var i = 0; i < tensors.Count; i++)
        {
            var stem = PascalCase(tensors[i].OnnxName, tensors[i].IsInput ? "Input" : "Output");
            var name = stem;
            for (var n = 2; MembersOf(name).Any(taken.Contains); n++) name = stem + n;
            foreach (var member in MembersOf(name)) taken.Add(member);
            names[i] = name;
        }
        return names;
    }

    public static string ShapeName(string propertyName) => propertyName + "Shape";

    public static string LengthName(string propertyName) => propertyName + "Length";

    /// <summary>The elements of one sample of a batched tensor; reserved for every tensor, like the class-score helpers.</summary>
    public static string SampleLengthName(string propertyName) => propertyName + "SampleLength";

    /// <summary>The pinned array behind the span.</summary>
    public static string BufferField(string propertyName) => "_" + LowerFirstAscii(propertyName) + "Buffer";

    /// <summary>The OrtValue created over the pinned array.</summary>
    public static string ValueField(string propertyName) => "_" + LowerFirstAscii(propertyName) + "Value";

    /// <summary>The current shape of an input whose shape changes at run time.</summary>
    public static string CurrentShapeField(string propertyName) => "_" + LowerFirstAscii(propertyName) + "Shape";

    /// <summary>The current length of an input whose shape changes at run time.</summary>
    public static string LengthField(string propertyName) => "_" + LowerFirstAscii(propertyName) + "Length";

    /// <summary>The static shape array (also passed to ONNX Runtime, which copies it).</summary>
    public static string ShapeField(string propertyName) => "s_" + LowerFirstAscii(propertyName) + "Shape";

    /// <summary>The class-score helpers of an output (see ClassScoreEmitter); reserved for every tensor, so that
    /// adding a labels file or changing an output's shape never renames another tensor's property.</summary>
    public static string ArgMaxName(string propertyName) => propertyName + "ArgMax";

    public static string ArgMaxLabelName(string propertyName) => propertyName + "ArgMaxLabel";

    public static string TopKName(string propertyName) => propertyName + "TopK";

    private static IEnumerable<string> MembersOf(string name) =>
        [name, ShapeName(name), LengthName(name), SampleLengthName(name), ArgMaxName(name), ArgMaxLabelName(name), TopKName(name)];

    internal static string PascalCase(string onnxName, string prefixWhenNotALetter)
    {
        var result = new StringBuilder(onnxName.Length);
        var startOfWord = true;
        foreach (var c in onnxName)
        {
            if (!char.IsLetterOrDigit(c)) { startOfWord = true; continue; }
            result.Append(startOfWord ? char.ToUpperInvariant(c) : c);
            startOfWord = false;
        }
        if (result.Length == 0 || char.IsDigit(result[0])) result.Insert(0, prefixWhenNotALetter);
        return result.ToString();
    }

    // Only ASCII: lower-casing is then one-to-one on the property names, so field names stay distinct.
    private static string LowerFirstAscii(string name) =>
        name[0] is >= 'A' and <= 'Z' ? (char)(name[0] + ('a' - 'A')) + name.Substring(1) : name;
}
