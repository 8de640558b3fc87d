using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// Runs the compression worker (<c>ModelCompression.Cli.dll</c>, from this repository's build) out
/// of process, as the MSBuild task does: a crash shows as an exit code, not as a dead test host.
/// </summary>
public static class WorkerCli
{
    /// <summary>The worker built beside these tests (same configuration).</summary>
    public static string Path { get; } = RepositoryPaths.Combine("src", "ModelCompression.Cli", "bin",
        typeof(WorkerCli).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false)
            .OfType<System.Reflection.AssemblyConfigurationAttribute>().FirstOrDefault()?.Configuration ?? "Debug",
        "net10.0", "ModelCompression.Cli.dll");

    /// <summary><c>dotnet exec ModelCompression.Cli.dll arguments...</c> in <paramref name="workingDirectory"/>.</summary>
    public static WorkerResult Run(string workingDirectory, params string[] arguments) =>
        Run(workingDirectory, new Dictionary<string, string>(), arguments);

    /// <param name="environment">Extra environment variables (e.g. <c>LANG</c>).</param>
    public static WorkerResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Run(workingDirectory, environment, DotNet.DefaultTimeout, arguments);

    /// <param name="timeout">Kill the worker after this long (<see cref="DotNet.Run(string, IReadOnlyDictionary{string, string}, TimeSpan, string[])"/>).</param>
    public static WorkerResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments) =>
        Run(workingDirectory, environment, timeout, core: null, arguments);

    /// <param name="core">Run the worker on this core alone (<c>taskset</c>), as on a one-core machine; null: on any.</param>
    public static WorkerResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, int? core, params string[] arguments)
    {
        if (!File.Exists(Path))
            throw new InvalidOperationException($"The worker '{Path}' is not built; build the solution first.");
        string[] worker = ["exec", Path, .. arguments];
        return new WorkerResult(core is { } c
            ? DotNet.RunProgram("taskset", workingDirectory, environment, timeout, ["-c", c.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet", .. worker])
            : DotNet.Run(workingDirectory, environment, timeout, worker));
    }
}

/// <summary>The worker's exit code and output, with its <c>MCnnnn</c> lines parsed.</summary>
public sealed record WorkerResult(CommandResult Command)
{
    public int ExitCode => Command.ExitCode;

    public string Output => Command.Output;

    /// <summary>The codes of the canonical error lines the worker printed (<c>file : error MCnnnn: ...</c>), in order.</summary>
    public IReadOnlyList<string> ErrorCodes => Lines(" : error ");

    public IReadOnlyList<string> WarningCodes => Lines(" : warning ");

    /// <summary>Exit code 1, exactly one error line with <paramref name="code"/>, and no stack trace anywhere in the output.</summary>
    public WorkerResult AssertFailsWith(string code)
    {
        Assert.True(ExitCode == 1, $"Expected exit code 1 with {code}.{Environment.NewLine}{Command}");
        Assert.True(ErrorCodes.SequenceEqual([code]), $"Expected exactly one error, {code}.{Environment.NewLine}{Command}");
        AssertNoStackTrace();
        return this;
    }

    public WorkerResult AssertSucceeded()
    {
        Assert.True(ExitCode == 0, $"The worker failed.{Environment.NewLine}{Command}");
        AssertNoStackTrace();
        return this;
    }

    /// <summary>No frame of a .NET stack trace ("   at Type.Method(") outside the detail lines.</summary>
    public void AssertNoStackTrace()
    {
        var frames = Output.Split('\n').Where(l => !l.StartsWith("detail: ", StringComparison.Ordinal))
            .Where(l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) && l.Contains('(')).ToList();
        Assert.True(frames.Count == 0, $"The output holds a stack trace outside the detail lines.{Environment.NewLine}{Command}");
    }

    private List<string> Lines(string category) =>
        Output.Split('\n')
            .Select(l => l.TrimEnd('\r'))
            .Where(l => l.Contains(category, StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf(category, StringComparison.Ordinal) + category.Length)..])
            .Select(rest => rest.Split(':')[0].Trim())
            .ToList();
}
