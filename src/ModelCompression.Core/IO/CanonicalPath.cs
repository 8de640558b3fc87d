namespace ModelCompression.Core.IO;

/// <summary>
/// The canonical form of a path, as <c>realpath</c> gives it: absolute, without <c>.</c> and
/// <c>..</c>, and with every symbolic link (or junction) followed in every component, so that
/// whether a file lies inside a folder can be decided on the strings. Components that do not
/// exist are kept as written.
/// </summary>
public static class CanonicalPath
{
    // Linux's own limit (ELOOP): a longer chain of links is taken for a loop.
    private const int MaxLinks = 40;

    /// <exception cref="IOException">The path goes through a loop of symbolic links.</exception>
    public static string Of(string path)
    {
        var full = Path.GetFullPath(path);
        var current = Path.GetPathRoot(full)!;
        var rest = new Queue<string>(Components(full));
        var links = 0;
        while (rest.TryDequeue(out var name))
        {
            var next = Path.Combine(current, name);
            if (new FileInfo(next).LinkTarget is not { } target)
            {
                current = next;
                continue;
            }
            if (++links > MaxLinks)
                throw new IOException($"'{path}' goes through more than {MaxLinks} symbolic links: they form a loop");
            // The walk restarts at the link's target (relative to the link's folder), followed by what came after the link.
            var resolved = Path.GetFullPath(target, current);
            current = Path.GetPathRoot(resolved)!;
            rest = new Queue<string>(Components(resolved).Concat(rest));
        }
        return current;
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or lies below it; both must be canonical.</summary>
    public static bool IsWithin(string path, string folder)
    {
        // Windows and macOS file systems ignore case by default.
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var prefix = Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar;
        return path.Equals(folder, comparison) || path.StartsWith(prefix, comparison);
    }

    private static string[] Components(string fullPath) =>
        fullPath[Path.GetPathRoot(fullPath)!.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
}
