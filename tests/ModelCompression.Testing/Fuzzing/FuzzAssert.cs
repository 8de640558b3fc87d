namespace ModelCompression.Testing.Fuzzing;

/// <summary>The fuzz tests' one assertion: a target survives its mutations, with its figures printed whether it does or not.</summary>
public static class FuzzAssert
{
    /// <summary>Mutations per target in a normal test run (a few seconds at most); <see cref="MutationFuzzer.IterationsVariable"/> overrides it.</summary>
    public const int DefaultIterations = 1_000;

    /// <summary>Fixed, so that a test run is reproducible; <see cref="MutationFuzzer.SeedVariable"/> overrides it.</summary>
    public const int DefaultSeed = 72_025;

    /// <summary>
    /// Fuzzes <paramref name="target"/>, writes its figures to the test's output and as a diagnostic
    /// message, and fails listing the seed and the first crashes (their inputs saved) if any input crashed.
    /// </summary>
    public static FuzzReport NoCrashes(FuzzTarget target, ITestOutputHelper output)
    {
        var report = MutationFuzzer.Run(target, MutationFuzzer.Iterations(DefaultIterations), MutationFuzzer.Seed(DefaultSeed));

        output.WriteLine(report.ToString());
        TestContext.Current.SendDiagnosticMessage(report.Summary);
        Assert.True(report.CrashCount == 0, report.ToString());
        // A mutator whose every input is refused (or accepted) explores nothing of the parser.
        Assert.True(report.Successes > 0 && report.CodedFailures.Count > 0, $"Only one kind of outcome: {report.Summary}");
        return report;
    }
}
