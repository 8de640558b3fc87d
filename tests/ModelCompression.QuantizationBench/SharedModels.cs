namespace ModelCompression.QuantizationBench;

internal static class SharedModels
{
    /// <summary>The nearest shared/models folder above the current directory or the program's own.</summary>
    public static string? Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "models");
                if (Directory.Exists(candidate)) return candidate;
            }
        return null;
    }
}
