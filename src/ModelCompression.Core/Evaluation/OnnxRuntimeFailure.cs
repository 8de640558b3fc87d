using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Evaluation;

/// <summary>
/// Turns ONNX Runtime's exceptions into MC1003 errors that name the model. The message keeps the first
/// meaningful line of ONNX Runtime's text, without its error-code prefix and the C++ source locations and
/// signatures it embeds; the full text stays in the inner exception, for the detailed log.
/// </summary>
public static partial class OnnxRuntimeFailure
{
    /// <summary>ONNX Runtime cannot create a session for the model.</summary>
    public static CompressionException CannotLoad(string modelName, OnnxRuntimeException e) =>
        new(DiagnosticCode.ModelUnsupported, modelName,
            $"ONNX Runtime {OrtEnv.Instance().GetVersionString()} cannot load '{modelName}': {Summary(e.Message)}. " +
            "Export the model again with standard operators and an opset this ONNX Runtime supports.", e);

    /// <summary>ONNX Runtime loaded the model but failed to run it; <paramref name="on"/> says on what (e.g. "on sample 3 of 'data.npz'").</summary>
    public static CompressionException CannotRun(string modelName, string on, OnnxRuntimeException e) =>
        new(DiagnosticCode.ModelUnsupported, modelName,
            $"ONNX Runtime failed to run '{modelName}' {on}: {Summary(e.Message)}. Check that the data fits the model's inputs, or export the model again.", e);

    /// <summary>The first line of an ONNX Runtime message that says something, in words: "Opset 999 is under development ...".</summary>
    public static string Summary(string message)
    {
        foreach (var line in message.Split('\n'))
        {
            var text = Clean(line);
            if (text.Length > 0) return text;
        }
        return message.Trim();
    }

    private static string Clean(string line)
    {
        var text = ErrorCodePrefix().Replace(line, "");
        text = StatusPrefix().Replace(text, "");
        text = WithoutSourceLocations(text);
        return Spaces().Replace(text, " ").Trim().TrimEnd('.').Trim();
    }

    // ORT's ORT_THROW/ORT_ENFORCE prefix "file.cc:123 function " to the text: a short name, or a full C++ signature.
    private static string WithoutSourceLocations(string text)
    {
        var result = new StringBuilder();
        var position = 0;
        for (var match = SourceLocation().Match(text); match.Success; match = SourceLocation().Match(text, position))
        {
            result.Append(text, position, match.Index - position);
            position = AfterFunction(text, match.Index + match.Length);
        }
        return result.Append(text, position, text.Length - position).ToString();
    }

    private static int AfterFunction(string text, int start)
    {
        var open = text.IndexOf('(', start);
        if (open > start && QualifiedFunction().IsMatch(text.AsSpan(start, open - start)))
        {
            var depth = 0;
            for (var i = open; i < text.Length; i++)
            {
                depth += text[i] switch { '(' => 1, ')' => -1, _ => 0 };
                if (depth != 0) continue;
                var end = i + 1;
                if (text.AsSpan(end).StartsWith(" const", StringComparison.Ordinal)) end += " const".Length;
                return end;
            }
            return start;
        }
        var word = ShortFunction().Match(text, start);
        return word.Success && word.Index == start ? start + word.Length : start;
    }

    [GeneratedRegex(@"^\s*\[ErrorCode:\w+\]\s*")]
    private static partial Regex ErrorCodePrefix();

    [GeneratedRegex(@"\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*")]
    private static partial Regex StatusPrefix();

    [GeneratedRegex(@"(?<![\w/\\])(?:[A-Za-z]:)?[\w.+\-/\\]*\.(?:cc|cpp|cxx|c|h|hpp|cu|mm):\d+\s+")]
    private static partial Regex SourceLocation();

    // "void onnxruntime::model_load_utils::ValidateOpsetForDomain" before its "(": a return type and a qualified name.
    [GeneratedRegex(@"^[\w:<>,*&~ ]*::[\w~]+$")]
    private static partial Regex QualifiedFunction();

    [GeneratedRegex(@"\w+\s+")]
    private static partial Regex ShortFunction();

    [GeneratedRegex(@"\s{2,}")]
    private static partial Regex Spaces();
}
