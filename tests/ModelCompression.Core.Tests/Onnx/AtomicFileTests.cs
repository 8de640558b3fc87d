using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.IO;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Onnx;

public class AtomicFileTests
{
    [Fact]
    public void A_failed_write_keeps_the_previous_file_and_leaves_no_temp_file()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("out.bin");
        File.WriteAllText(path, "previous");

        var e = Assert.Throws<CompressionException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full");
        }));

        Assert.Equal(DiagnosticCode.OutputWriteFailed, e.Code);
        Assert.Contains("disk full", e.Message);
        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }

    // Root ignores permissions, so these block the write with something in the way.
    [Fact]
    public void A_file_where_the_folder_must_be_is_MC6001_naming_both()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.Combine("blocker"), "");
        var path = dir.Combine("blocker", "sub", "out.bin");

        var e = Assert.Throws<CompressionException>(() => AtomicFile.WriteAllText(path, "x"));

        Assert.Equal(DiagnosticCode.OutputWriteFailed, e.Code);
        Assert.Equal(path, e.File);
        Assert.Contains($"'{dir.Combine("blocker")}' is a file, where a folder must be", e.Message);
    }

    [Fact]
    public void A_folder_where_the_file_must_go_is_MC6001_and_leaves_no_temp_file()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("out.bin");
        Directory.CreateDirectory(path);

        var e = Assert.Throws<CompressionException>(() => AtomicFile.WriteAllText(path, "x"));

        Assert.Equal(DiagnosticCode.OutputWriteFailed, e.Code);
        Assert.Contains($"'{path}' is a folder, where the file must go", e.Message);
        Assert.Empty(Directory.GetFiles(dir.Path));
    }
}
