namespace ModelCompression.Testing.Fuzzing;

/// <summary>The fuzz tests' one assertion: a target survives its mutations, with its figures printed whether it does or not.</summary>
public static class FuzzAssert
{
    /// <summary>Set to a positive number to run that many mutations per target instead of <see cref="DefaultIterations"/>.</summary>
    public const string IterationsVariable = "MODELCOMPRESSION_FUZZ_ITERATIONS";

    /// <summary>Set to a positive number to start from another seed than <see cref="DefaultSeed"/>.</summary>
    public const string SeedVariable = "MODELCOMPRESSION_FUZZ_SEED";

    /// <summary>Mutations per target in a normal test run: a few seconds at most.</summary>
    public const int DefaultIterations = 1_000;

    /// <summary>Fixed, so that a test run is reproducible.</summary>
    public const int DefaultSeed = 72_025;

    /// <summary>
    /// Fuzzes <paramref name="target"/>, writes its figures to the test's output and as a diagnostic
    /// message, and fails listing the seed and the first crashes (their inputs saved) if any input crashed.
    /// </summary>
    public static FuzzReport NoCrashes(FuzzTarget target, ITestOutputHelper output)
    {
        var report = MutationFuzzer.Run(target, FromEnvironment(IterationsVariable, DefaultIterations), FromEnvironment(SeedVariable, DefaultSeed));

        output.WriteLine(report.ToString());
        TestContext.Current.SendDiagnosticMessage(report.Summary);
        Assert.True(report.CrashCount == 0, report.ToString());
        // A mutator whose every input is refused (or accepted) explores nothing of the parser.
        Assert.True(report.Successes > 0 && report.CodedFailures.Count > 0, $"Only one kind of outcome: {report.Summary}");
        return report;
    }

    private static int FromEnvironment(string variable, int byDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), out var value) && value > 0 ? value : byDefault;
}
