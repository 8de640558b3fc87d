using System.Security.Cryptography;
using System.Text;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.IO;

/// <summary>
/// A lock that builds running in other processes respect (MSBuild builds projects in parallel, each with its
/// own worker): an exclusively opened file under the temp folder, named by a hash of the resource's name.
/// The operating system releases it when the process ends, so a crashed build never blocks the next one.
/// The files stay (a few bytes each): deleting one while another process waits on it would let two in.
/// </summary>
public sealed class CrossProcessLock : IDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);
    private readonly FileStream _file;

    private CrossProcessLock(FileStream file) => _file = file;

    /// <summary>The folder holding the lock files.</summary>
    public static string Folder => Path.Combine(Path.GetTempPath(), "ModelCompression.Build", "locks");

    /// <summary>Waits until no other process holds <paramref name="resource"/>, then holds it until disposed.</summary>
    /// <param name="resource">What is locked, e.g. a full file path; any text.</param>
    /// <param name="file">The user's file the lock protects, named in errors.</param>
    /// <param name="onWait">Called once if the lock is held by another process, before waiting.</param>
    /// <exception cref="CompressionException">MC6001 the lock file cannot be created, or another process held it longer than <paramref name="timeout"/>.</exception>
    public static CrossProcessLock Acquire(string resource, TimeSpan timeout, string file, Action? onWait = null)
    {
        var path = Path.Combine(Folder, Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(resource)))[..32] + ".lock");
        var deadline = DateTime.UtcNow + timeout;
        var waited = false;
        while (true)
        {
            try
            {
                Directory.CreateDirectory(Folder);
                return new CrossProcessLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (File.Exists(path) && DateTime.UtcNow < deadline)
            {
                // Held by another process.
                if (!waited) onWait?.Invoke();
                waited = true;
                Thread.Sleep(RetryDelay);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var why = File.Exists(path) && DateTime.UtcNow >= deadline
                    ? $"another build held its lock '{path}' for more than {timeout.TotalMinutes:0} minutes"
                    : $"its lock '{path}' cannot be created ({e.Message})";
                throw new CompressionException(DiagnosticCode.OutputWriteFailed, file,
                    $"'{file}' cannot be updated: {why}. If no other build is running, delete '{path}' and build again.", e);
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
