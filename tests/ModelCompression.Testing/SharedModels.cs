using Xunit;

namespace ModelCompression.Testing;

/// <summary>
/// Locates the real models in <c>../shared/models</c> (beside the repository). Tests that need them
/// skip with a clear message when the folder is absent; CI sets MODELCOMPRESSION_REQUIRE_SHARED=1
/// so that there a missing folder fails instead of skipping.
/// </summary>
public static class SharedModels
{
    public const string RootVariable = "MODELCOMPRESSION_SHARED_MODELS";
    public const string RequireVariable = "MODELCOMPRESSION_REQUIRE_SHARED";

    /// <summary>The shared/models folder, or null when it cannot be found.</summary>
    public static string? Root { get; } = FindRoot();

    /// <summary>The folder of one model (e.g. "fashion-cnn"); skips the test when it is absent.</summary>
    public static string Folder(string model)
    {
        var folder = Root is null ? null : Path.Combine(Root, model);
        if (folder is not null && Directory.Exists(folder)) return folder;
        var message = $"The shared model folder '{model}' was not found (looked for ../shared/models beside the repository, or ${RootVariable}).";
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
            Assert.Fail(message + $" {RequireVariable}=1 requires it.");
        Assert.Skip(message);
        return folder!;
    }

    private static string? FindRoot()
    {
        var configured = Environment.GetEnvironmentVariable(RootVariable);
        if (!string.IsNullOrEmpty(configured)) return Directory.Exists(configured) ? configured : null;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "models");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }
}
