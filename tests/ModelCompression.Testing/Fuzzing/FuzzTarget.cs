using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Testing.Fuzzing;

/// <summary>
/// One parser under fuzzing: the valid inputs mutations start from, how to mutate them, how to run
/// the parser on one input, and which of its failures are documented, coded ones.
/// </summary>
/// <param name="Seeds">Valid inputs; every mutation starts from one of them (mutations do not accumulate).</param>
/// <param name="Run">Parses one input; returns the code of a failure the parser reports as a value (a diagnostic), or null when it accepts the input.</param>
/// <param name="CodeOf">The code of a thrown exception that is a documented failure; null for anything else, which is a crash.</param>
public sealed record FuzzTarget(string Name, IReadOnlyList<byte[]> Seeds, IMutator Mutator, Func<byte[], string?> Run, Func<Exception, string?> CodeOf)
{
    /// <summary>The product's contract: a <see cref="CompressionException"/> with a user-facing code (MC9xxx means an internal error, a bug).</summary>
    public static string? CompressionCode(Exception e) =>
        e is CompressionException { Code: var code } && !code.StartsWith("MC9", StringComparison.Ordinal) ? code : null;
}
