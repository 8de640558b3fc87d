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

        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full");
        }));

        Assert.Equal("previous", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));
    }
}
