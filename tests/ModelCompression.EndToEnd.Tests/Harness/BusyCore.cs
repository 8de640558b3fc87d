using System.Diagnostics;

namespace ModelCompression.EndToEnd.Tests.Harness;

/// <summary>
/// A process that keeps one core busy (a shell spinning in a loop, pinned there with <c>taskset</c>), as another
/// build on the same machine would; disposing kills it by its own id, also when the test fails.
/// </summary>
public sealed class BusyCore : IDisposable
{
    private readonly Process _process;

    private BusyCore(Process process) => _process = process;

    /// <summary>A spinning process on <paramref name="core"/> alone.</summary>
    public static BusyCore On(int core) =>
        new(Process.Start(new ProcessStartInfo("taskset", ["-c", core.ToString(System.Globalization.CultureInfo.InvariantCulture), "/bin/sh", "-c", "while :; do :; done"])
            { UseShellExecute = false })!);

    /// <summary>The first core this process may run on (a container may not be given core 0).</summary>
    public static int FirstAllowedCore()
    {
        // "Cpus_allowed_list:	0-1" or "…	2,4-7"
        var list = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal)).Split(':')[1].Trim();
        return int.Parse(list.Split(',', '-')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit();
        }
        catch (InvalidOperationException) { /* it has already gone */ }
        finally { _process.Dispose(); }
    }
}
