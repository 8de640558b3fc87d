using ModelCompression.Cli;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>The worker's stdout as the MSBuild task reads it, line by line: a detail stays a detail on every line.</summary>
public sealed class ConsoleLogTests
{
    [Fact]
    public void Every_line_of_a_multi_line_detail_is_a_detail_line()
    {
        var output = new StringWriter();
        var log = new ConsoleLog(output);

        log.Detail("System.InvalidOperationException: boom\n   at A.B() in /src/A.cs:line 1\r\n   at C.D()");

        Assert.Equal(
        [
            "detail: System.InvalidOperationException: boom",
            "detail:    at A.B() in /src/A.cs:line 1",
            "detail:    at C.D()",
        ], Lines(output));
    }

    private static string[] Lines(StringWriter output) => output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
}
