using System.Globalization;
using System.Text;

namespace ModelCompression.Testing.Fuzzing;

/// <summary>One input that crashed the parser: what it threw (or that it hung), and where the input is saved to reproduce it.</summary>
public sealed record FuzzCrash(int Iteration, string Failure, string InputPath);

/// <summary>The figures of one fuzzing run, and its first crashes.</summary>
public sealed record FuzzReport(
    string Target, int Seed, int Mutations, int Successes, IReadOnlyDictionary<string, int> CodedFailures,
    int CrashCount, IReadOnlyList<FuzzCrash> FirstCrashes, TimeSpan Elapsed)
{
    public string Summary
    {
        get
        {
            var codes = string.Join(", ", CodedFailures.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value:N0}"));
            var coded = CodedFailures.Values.Sum();
            return string.Create(CultureInfo.InvariantCulture,
                $"fuzz {Target}: {Mutations:N0} mutations, seed {Seed}, {Elapsed.TotalSeconds:0.0} s: {Successes:N0} succeeded, {coded:N0} coded failures ({(codes.Length > 0 ? codes : "none")}), {CrashCount:N0} crashes");
        }
    }

    /// <summary>The summary, then each saved crash: enough to reproduce and fix it.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(Summary);
        foreach (var crash in FirstCrashes)
            text.AppendLine().Append(CultureInfo.InvariantCulture, $"  mutation {crash.Iteration} (input saved as {crash.InputPath}): {crash.Failure}");
        if (CrashCount > FirstCrashes.Count) text.AppendLine().Append(CultureInfo.InvariantCulture, $"  ... and {CrashCount - FirstCrashes.Count:N0} more crashes");
        return text.ToString();
    }
}
