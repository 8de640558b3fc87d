using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace ModelCompression.Core.Planning.Locking;

/// <summary>
/// Which kernels ONNX Runtime runs here: the runtime identifier ("linux-x64", "osx-arm64") and, on x64, the instruction sets
/// its kernels choose between ("linux-x64-avx2", "linux-x64-avx512-vnni"). Machines that differ in either can round
/// the statistics the passes compute with otherwise, so the same plan may give other bytes on them.
/// </summary>
public static class KernelPlatform
{
    public static string Current { get; } = Describe();

    private static string Describe()
    {
        var identifier = RuntimeInformation.RuntimeIdentifier;
        return X86Base.IsSupported ? string.Join("-", [identifier, .. X64Features()]) : identifier;
    }

    // Read from CPUID itself, not from .NET's Avx2/Avx512F flags, which DOTNET_ settings can turn off for .NET alone.
    private static IEnumerable<string> X64Features()
    {
        var (_, _, leaf1Ecx, _) = X86Base.CpuId(1, 0);
        var (_, leaf7Ebx, leaf7Ecx, leaf7Edx) = X86Base.CpuId(7, 0);
        var (leaf71Eax, _, _, _) = X86Base.CpuId(7, 1);
        if (Bit(leaf7Ebx, 5) && Bit(leaf1Ecx, 12)) yield return "avx2";     // AVX2 with FMA3
        if (Bit(leaf7Ebx, 16)) yield return "avx512";                        // AVX-512F
        if (Bit(leaf7Ecx, 11) || Bit(leaf71Eax, 4)) yield return "vnni";     // AVX512-VNNI or AVX-VNNI (int8 kernels)
        if (Bit(leaf7Edx, 24)) yield return "amx";                           // AMX tiles
    }

    private static bool Bit(int register, int bit) => ((register >> bit) & 1) != 0;
}
