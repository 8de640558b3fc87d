namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// The stamp a build keeps beside a compressed model: which locked plan made it, as "plan &lt;fingerprint&gt;".
/// The MSBuild task (<c>ResolveCompressedModels</c>) reads it on every build: while the lock file still holds that
/// fingerprint, a change to the lock (another project's plan) does not run compression again; when the plan is
/// gone or changed (a teammate's new lock), it does. The two sides share only this line's form.
/// </summary>
public static class LockStamp
{
    public const string Prefix = "plan ";

    /// <summary>The stamp's content, one line as MSBuild's WriteLinesToFile writes it (so rewriting it with equal content changes nothing).</summary>
    public static string For(PlanLock plan) => Prefix + PlanLockFile.Fingerprint(plan) + Environment.NewLine;
}
