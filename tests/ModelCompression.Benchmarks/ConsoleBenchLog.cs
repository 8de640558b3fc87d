using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Planning;

namespace ModelCompression.Benchmarks;

/// <summary>Progress on the console; details are left out.</summary>
public sealed class ConsoleBenchLog : ICompressionLog
{
    public void Info(string message) => Console.WriteLine(message);

    public void Detail(string message) { }

    public void Report(Diagnostic diagnostic) => Console.WriteLine(diagnostic.ToCanonicalString());
}
