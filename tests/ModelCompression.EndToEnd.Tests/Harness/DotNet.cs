using System.Diagnostics;
using System.Text;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>The output and exit code of one <c>dotnet</c> command.</summary>
public sealed record CommandResult(string CommandLine, int ExitCode, string Output, TimeSpan Duration)
{
    public bool Succeeded => ExitCode == 0;

    public override string ToString() => $"> {CommandLine}{Environment.NewLine}exit code {ExitCode} after {Duration.TotalSeconds:0.0} s{Environment.NewLine}{Output}";
}

/// <summary>
/// Runs the dotnet CLI as a user's shell would: English messages, no telemetry banner, and none of
/// the MSBuild variables that the test host inherits from the <c>dotnet test</c> that started it.
/// </summary>
public static class DotNet
{
    /// <summary>How long a command may run before it is killed, unless the caller gives its own limit.</summary>
    public static TimeSpan DefaultTimeout { get; } = TimeSpan.FromMinutes(10);

    public static CommandResult Run(string workingDirectory, params string[] arguments) =>
        Run(workingDirectory, new Dictionary<string, string>(), arguments);

    /// <param name="environment">Variables set for the command on top of the cleaned environment.</param>
    public static CommandResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Run(workingDirectory, environment, DefaultTimeout, arguments);

    /// <param name="timeout">Kill the command (its whole process tree) after this long and throw a <see cref="TimeoutException"/> with its output so far.</param>
    public static CommandResult Run(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments) =>
        RunProgram("dotnet", workingDirectory, environment, timeout, arguments);

    /// <summary>Any program (e.g. a published app) in the same cleaned environment as the dotnet commands.</summary>
    public static CommandResult RunProgram(string program, string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var name in start.Environment.Keys.Where(IsInheritedBuildVariable).ToList()) start.Environment.Remove(name);
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach (var (name, value) in environment) start.Environment[name] = value;

        var output = new StringBuilder();
        var commandLine = program + " " + string.Join(" ", arguments.Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        var stopwatch = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(); // the output up to the kill
            lock (output) throw new TimeoutException($"'{commandLine}' did not finish within {timeout}.{Environment.NewLine}{output}");
        }
        process.WaitForExit(); // flushes the redirected streams
        lock (output) return new CommandResult(commandLine, process.ExitCode, output.ToString(), stopwatch.Elapsed);
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null) return;
        lock (output) output.AppendLine(line);
    }

    // MSBuildExtensionsPath, MSBuildSDKsPath, MSBUILD_EXE_PATH... point the child at the parent's MSBuild.
    private static bool IsInheritedBuildVariable(string name) =>
        name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
        || name.Equals("DOTNET_HOST_PATH", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("DOTNET_CLI_USE_MSBUILD_SERVER", StringComparison.OrdinalIgnoreCase);
}
