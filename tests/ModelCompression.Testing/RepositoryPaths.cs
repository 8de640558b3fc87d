namespace ModelCompression.Testing;

/// <summary>Paths inside this repository, found from the test assembly's location.</summary>
public static class RepositoryPaths
{
    /// <summary>The repository root: the folder holding ModelCompression.Build.sln.</summary>
    public static string Root { get; } = FindRoot();

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ModelCompression.Build.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No ModelCompression.Build.sln above {AppContext.BaseDirectory}.");
    }
}
