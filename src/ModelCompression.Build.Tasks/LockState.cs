using System.Security.Cryptography;

namespace ModelCompression.Build.Tasks;

/// <summary>
/// What a model's plan lock means for its last compression, as one line for the per-item lock stamp (an input of
/// the compression target, rewritten only when this line changes). The worker writes "plan &lt;fingerprint&gt;"
/// into the stamp for the locked plan it used or wrote (ModelCompression.Core's LockStamp): while the lock file
/// still holds that plan, the line stays, so another project's plan in the same lock does not compress this model
/// again. Otherwise the line follows the lock file's content, so any change to it (a teammate's plan, a
/// deleted lock) compresses again.
/// </summary>
internal static class LockState
{
    private const string PlanPrefix = "plan ";

    // A lock is a few KB per plan; a larger file is not searched in this (MSBuild's) process, only hashed.
    private const long MaxSearchedLockBytes = 16 << 20;

    public static string Of(string lockFile, string stampFile)
    {
        var info = new FileInfo(lockFile);
        if (!info.Exists) return "no lock";
        var stamp = File.Exists(stampFile) ? File.ReadAllText(stampFile).Trim() : "";
        if (stamp.StartsWith(PlanPrefix, StringComparison.Ordinal) && info.Length <= MaxSearchedLockBytes
            && File.ReadAllText(lockFile).Contains($"\"fingerprint\": \"{stamp.Substring(PlanPrefix.Length)}\""))
            return stamp;
        using var sha = SHA256.Create();
        using var stream = info.OpenRead();
        return "lock " + BitConverter.ToString(sha.ComputeHash(stream)).Replace("-", "").ToLowerInvariant();
    }
}
