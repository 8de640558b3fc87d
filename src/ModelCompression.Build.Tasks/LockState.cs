using System.Security.Cryptography;
using System.Text;

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

    public static string Of(string lockFile, string stampFile)
    {
        if (!File.Exists(lockFile)) return "no lock";
        var lockText = File.ReadAllText(lockFile);
        var stamp = File.Exists(stampFile) ? File.ReadAllText(stampFile).Trim() : "";
        if (stamp.StartsWith(PlanPrefix, StringComparison.Ordinal) && lockText.Contains($"\"fingerprint\": \"{stamp.Substring(PlanPrefix.Length)}\""))
            return stamp;
        using var sha = SHA256.Create();
        return "lock " + BitConverter.ToString(sha.ComputeHash(Encoding.UTF8.GetBytes(lockText))).Replace("-", "").ToLowerInvariant();
    }
}
