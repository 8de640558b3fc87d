using System.Diagnostics;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// Other processes that keep the CPU busy (a shell spinning in a loop per core), as another build on the same
/// machine would; disposing kills each of them by its own id, also when the test fails.
/// </summary>
public sealed class BusyProcesses : IDisposable
{
    private readonly List<Process> _processes = [];

    private BusyProcesses() { }

    /// <summary>One spinning process per core this process may use.</summary>
    public static BusyProcesses OnePerCore()
    {
        var busy = new BusyProcesses();
        try
        {
            for (var i = 0; i < Environment.ProcessorCount; i++)
                busy._processes.Add(Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "while :; do :; done"]) { UseShellExecute = false })!);
        }
        catch
        {
            busy.Dispose();
            throw;
        }
        return busy;
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try
            {
                if (!process.HasExited) process.Kill();
                process.WaitForExit();
            }
            catch (InvalidOperationException) { /* it has already gone */ }
            finally { process.Dispose(); }
        }
        _processes.Clear();
    }
}
