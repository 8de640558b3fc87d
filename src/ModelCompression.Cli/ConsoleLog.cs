using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;

namespace ModelCompression.Cli;

/// <summary>
/// Writes to standard output, one line at a time: diagnostics in MSBuild's canonical form (the task
/// turns them into errors and warnings), detail lines prefixed so the task can lower their importance.
/// </summary>
public sealed class ConsoleLog : ICompressionLog
{
    public const string DetailPrefix = "detail: ";

    public bool HasErrors { get; private set; }

    public void Info(string message) => Console.Out.WriteLine(message);

    public void Detail(string message) => Console.Out.WriteLine(DetailPrefix + message);

    public void Report(Diagnostic diagnostic)
    {
        HasErrors |= diagnostic.Severity == DiagnosticSeverity.Error;
        Console.Out.WriteLine(diagnostic.ToCanonicalString());
    }
}
