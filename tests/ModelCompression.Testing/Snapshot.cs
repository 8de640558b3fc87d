using System.Runtime.CompilerServices;
using Xunit;

namespace ModelCompression.Testing;

/// <summary>
/// Snapshot assertions in Verify's file layout: the expected text is committed as
/// <c>{TestClass}.{TestMethod}.verified.{ext}</c> beside the test file (the test class is named after its file).
/// On a mismatch the actual text is written to <c>.received.{ext}</c> for review (accept it by renaming it over the
/// verified file) and the assertion fails; on a match a stale <c>.received</c> file is deleted.
/// Line endings are compared as '\n' so a checkout with CRLF does not fail.
/// </summary>
public static class Snapshot
{
    public static void Match(string actual, string extension = "cs",
        [CallerFilePath] string testFile = "", [CallerMemberName] string testMethod = "")
    {
        var folder = Path.GetDirectoryName(SourcePath(testFile))!;
        var stem = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(testFile)}.{testMethod}");
        var verified = $"{stem}.verified.{extension}";
        var received = $"{stem}.received.{extension}";
        actual = Normalize(actual);

        if (File.Exists(verified) && Normalize(File.ReadAllText(verified)) == actual)
        {
            File.Delete(received);
            return;
        }
        File.WriteAllText(received, actual);
        Assert.Fail(File.Exists(verified)
            ? $"The output differs from the snapshot {verified}. Compare it with {received}; if the change is intended, move the received file over the verified one."
            : $"There is no snapshot {verified} yet. Review {received} and, if it is right, rename it to {Path.GetFileName(verified)}.");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n");

    // A deterministic CI build maps source paths to /_/ (PathMap); map them back into this checkout.
    private static string SourcePath(string compiledPath) =>
        compiledPath.StartsWith("/_/", StringComparison.Ordinal)
            ? RepositoryPaths.Combine(compiledPath.Substring(3).Split('/'))
            : compiledPath;
}
