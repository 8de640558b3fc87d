using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Core.IO;

/// <summary>
/// Writes files so that a reader never sees half of one: the content goes to a temporary file in
/// the same directory, which then replaces the target in one rename. A failed write leaves the
/// previous file (or nothing) behind. Every output of the tool is written here, so a file that
/// cannot be written is always MC6001 naming it.
/// </summary>
public static class AtomicFile
{
    /// <exception cref="CompressionException">MC6001 the file or its folder cannot be written.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        var temp = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(directory);
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, fullPath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompressionException(DiagnosticCode.OutputWriteFailed, path,
                $"The output file '{path}' cannot be written: {Obstacle(fullPath, e)}. Make its folder writable and remove what is in the way, or choose another output path.", e);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, s =>
        {
            using var writer = new StreamWriter(s, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true);
            writer.Write(text);
        });

    // What stands where the file or a folder above it must go, when that explains the failure; else the system's reason.
    private static string Obstacle(string fullPath, Exception e)
    {
        if (Directory.Exists(fullPath)) return $"'{fullPath}' is a folder, where the file must go";
        for (var folder = Path.GetDirectoryName(fullPath); folder is not null; folder = Path.GetDirectoryName(folder))
            if (File.Exists(folder)) return $"'{folder}' is a file, where a folder must be";
        return e is UnauthorizedAccessException ? $"access is denied ({e.Message})" : e.Message;
    }
}
