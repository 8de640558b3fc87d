namespace ModelCompression.Distillation.Tests;

/// <summary>The entry the worker calls by name (in its own load context; see the worker's DistillationPlugin and the end-to-end DistillationPackageTests).</summary>
public sealed class PluginEntryTests
{
    [Fact]
    public void Loading_the_natives_names_the_binding_library_as_TorchSharp_imports_it_and_the_self_check_computes()
    {
        var natives = PluginEntry.LoadNativeLibraries([], cacheDirectory: null);

        Assert.True(natives.ContainsKey("LibTorchSharp"), string.Join(", ", natives.Keys));
        Assert.True(natives.ContainsKey("torch_cpu"), string.Join(", ", natives.Keys));
        Assert.EndsWith("times its transpose is [5, 14, 14, 50]", PluginEntry.SelfCheck(), StringComparison.Ordinal);
    }
}
