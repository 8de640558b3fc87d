using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;

namespace ModelCompression.Testing;

/// <summary>Keeps what the compressor logs, for assertions.</summary>
public sealed class RecordingLog : ICompressionLog
{
    public List<string> Lines { get; } = [];

    public List<Diagnostic> Diagnostics { get; } = [];

    public void Info(string message) => Lines.Add(message);

    public void Detail(string message) => Lines.Add(message);

    public void Report(Diagnostic diagnostic) => Diagnostics.Add(diagnostic);
}
