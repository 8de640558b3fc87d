using System.Runtime.InteropServices;
using ModelCompression.Distillation.Native;
using ModelCompression.Testing;
using TorchSharp;

namespace ModelCompression.Distillation.Tests.Native;

public sealed class TorchRuntimeTests
{
    [Fact]
    public void Tensors_and_gradients_work_after_loading_the_native_libraries()
    {
        TorchRuntime.EnsureLoaded();
        using var layer = torch.nn.Linear(4, 2);
        using var input = torch.ones(5, 4);
        using var loss = layer.forward(input).sum();
        loss.backward();

        // d(sum of outputs)/dW = each input summed over the batch: 5 per weight.
        var gradient = layer.weight!.grad!.data<float>().ToArray();
        Assert.All(gradient, g => Assert.Equal(5f, g, 5));
    }

    /// <summary>libgomp reads the policy from the native environment when libtorch loads; .NET's environment does not reach it.</summary>
    [Fact]
    public void Libtorch_loads_with_its_threads_waiting_passively_unless_the_user_chose_a_policy()
    {
        var chosen = Environment.GetEnvironmentVariable(TorchRuntime.OmpWaitPolicy);

        TorchRuntime.EnsureLoaded();

        Assert.Equal(chosen ?? "PASSIVE", Marshal.PtrToStringUTF8(getenv(TorchRuntime.OmpWaitPolicy)));
    }

    [DllImport("libc", CharSet = CharSet.Ansi)]
    private static extern IntPtr getenv(string name);

    [Fact]
    public void The_binding_library_copy_needs_glibcxx_3_4_32_only_weakly_and_the_original_is_untouched()
    {
        var original = Path.Combine(TorchRuntime.DefaultNativeDirectories[0], TorchRuntime.BindingLibrary);
        var before = File.ReadAllBytes(original);
        using var cache = new TempDirectory();

        var copy = TorchRuntime.PatchedCopy(original, cache.Path);

        Assert.StartsWith(cache.Path, copy);
        Assert.Equal(before, File.ReadAllBytes(original));
        var patched = File.ReadAllBytes(copy);
        Assert.Equal(before.Length, patched.Length);
        // Exactly one flag bit differs, and marking again finds the need (now already weak) without changing anything.
        Assert.Equal(1, before.Zip(patched).Count(p => p.First != p.Second));
        Assert.True(ElfVersionNeeds.MarkWeak(patched, "GLIBCXX_3.4.32"));
        Assert.Equal(File.ReadAllBytes(copy), patched);
        Assert.Equal(copy, TorchRuntime.PatchedCopy(original, cache.Path));
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 })]
    public void A_file_that_is_not_a_64_bit_elf_library_is_refused(byte[] bytes)
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(bytes, "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void Section_offsets_past_the_end_are_refused_not_read()
    {
        var original = File.ReadAllBytes(Path.Combine(TorchRuntime.DefaultNativeDirectories[0], TorchRuntime.BindingLibrary));
        var truncated = original.AsSpan(0, 4096).ToArray();
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(truncated, "GLIBCXX_3.4.32"));
    }
}
