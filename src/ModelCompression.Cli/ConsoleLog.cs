using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;

namespace ModelCompression.Cli;

/// <summary>
/// Writes to standard output, one line at a time: diagnostics in MSBuild's canonical form (the task
/// turns them into errors and warnings), detail lines prefixed so the task can lower their importance.
/// </summary>
public sealed class ConsoleLog(TextWriter output) : ICompressionLog
{
    public const string DetailPrefix = "detail: ";

    public bool HasErrors { get; private set; }

    public void Info(string message) => output.WriteLine(message);

    // The task lowers only prefixed lines, so every line of a multi-line detail (a stack trace) carries the prefix.
    public void Detail(string message)
    {
        foreach (var line in message.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')) output.WriteLine(DetailPrefix + line);
    }

    public void Report(Diagnostic diagnostic)
    {
        HasErrors |= diagnostic.Severity == DiagnosticSeverity.Error;
        output.WriteLine(diagnostic.ToCanonicalString());
    }
}
