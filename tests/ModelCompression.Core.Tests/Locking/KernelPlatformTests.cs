using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using ModelCompression.Core.Planning.Locking;

namespace ModelCompression.Core.Tests.Locking;

public class KernelPlatformTests
{
    /// <summary>CPUID read by hand agrees with .NET's own flags (which no DOTNET_ setting turns off in this test run).</summary>
    [Fact]
    public void The_platform_is_the_runtime_identifier_then_on_x64_the_instruction_sets_onnx_runtime_chooses_between()
    {
        var platform = KernelPlatform.Current;

        Assert.StartsWith(RuntimeInformation.RuntimeIdentifier, platform);
        var features = platform[RuntimeInformation.RuntimeIdentifier.Length..].Split('-', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(X86Base.IsSupported && Avx2.IsSupported && Fma.IsSupported, features.Contains("avx2"));
        Assert.Equal(X86Base.IsSupported && Avx512F.IsSupported, features.Contains("avx512"));
        Assert.All(features, f => Assert.Contains(f, new[] { "avx2", "avx512", "vnni", "amx" }));
    }
}
