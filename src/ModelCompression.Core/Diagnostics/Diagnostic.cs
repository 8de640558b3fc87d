namespace ModelCompression.Core.Diagnostics;

public enum DiagnosticSeverity { Warning, Error }

/// <summary>A coded warning or error about one file.</summary>
public sealed record Diagnostic(DiagnosticSeverity Severity, string Code, string? File, string Message)
{
    public static Diagnostic Error(string code, string? file, string message) => new(DiagnosticSeverity.Error, code, file, message);

    public static Diagnostic Warning(string code, string? file, string message) => new(DiagnosticSeverity.Warning, code, file, message);

    public static Diagnostic From(CompressionException e) => Error(e.Code, e.File, e.Message);

    /// <summary>
    /// MSBuild's canonical message format (<c>origin : error CODE: text</c>): a ToolTask turns such a
    /// line of the worker's output into a real error or warning with its code and file.
    /// </summary>
    public string ToCanonicalString()
    {
        var origin = string.IsNullOrEmpty(File) ? "ModelCompression" : File;
        var category = Severity == DiagnosticSeverity.Error ? "error" : "warning";
        // One line: MSBuild parses line by line.
        var text = Message.ReplaceLineEndings(" ");
        return $"{origin} : {category} {Code}: {text}";
    }
}
