namespace ModelCompression.Core.Diagnostics;

/// <summary>
/// A failure the user can act on: it carries an <c>MCnnnn</c> code, the file it is about and a
/// message that says what was found, what was expected and what to do. The worker prints it as an
/// MSBuild error; it never surfaces as a stack trace.
/// </summary>
public sealed class CompressionException : Exception
{
    public CompressionException(string code, string? file, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
        File = file;
    }

    public string Code { get; }

    /// <summary>The file the error is about (model, data, lock), as the user named it; null when none applies.</summary>
    public string? File { get; }
}
