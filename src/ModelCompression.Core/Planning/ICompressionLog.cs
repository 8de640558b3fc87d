using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.Planning;

/// <summary>Where compression reports what it does: messages for the build log and coded diagnostics.</summary>
public interface ICompressionLog
{
    /// <summary>A line for the build log (shown at normal verbosity).</summary>
    void Info(string message);

    /// <summary>A line only shown at detailed verbosity.</summary>
    void Detail(string message);

    void Report(Diagnostic diagnostic);
}
