using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// A small .npz can inflate to gigabytes. The worker reads each array once (its content hash comes from the
/// same read) and keeps a few bytes per sample beside it, so its peak memory is the data's inflated size plus a
/// bounded overhead, not a multiple of it.
/// </summary>
public sealed partial class LargeDataTests
{
    private const long Samples = 8_388_000; // digits-mlp's [S, 64] float32 input: 2,147,328,000 bytes, just under one array's limit
    private const long PeakLimitBytes = 2_500L << 20;

    [Fact]
    public void Digits_mlp_with_a_2_GB_inflating_npz_peaks_under_2_5_GB()
    {
        using var folder = WorkerFolder.OfSharedModel("digits-mlp");
        WriteZeros(folder.ValidationPath);
        Assert.InRange(new FileInfo(folder.ValidationPath).Length, 1, 64L << 20); // a small file that inflates 100-fold and more

        var run = folder.Compress().AssertSucceeded();

        var peak = long.Parse(PeakMemory().Match(run.Output).Groups["mb"].Value, CultureInfo.InvariantCulture) << 20;
        Assert.True(peak < PeakLimitBytes, $"peak memory {peak >> 20} MB, limit {PeakLimitBytes >> 20} MB.{Environment.NewLine}{run.Command}");
    }

    /// <summary>input [S, 64] float32 and labels [S] int64, all zero, deflated: about 21 MB on disk.</summary>
    private static void WriteZeros(string path)
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        WriteZeroArray(zip, "input", "<f4", $"({Samples}, 64)", Samples * 64 * 4);
        WriteZeroArray(zip, "labels", "<i8", $"({Samples},)", Samples * 8);
    }

    private static void WriteZeroArray(ZipArchive zip, string name, string descr, string shape, long bytes)
    {
        using var entry = zip.CreateEntry(name + ".npy", CompressionLevel.Fastest).Open();
        var dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        var padded = dict.PadRight(64 * ((10 + dict.Length + 1 + 63) / 64) - 10 - 1) + "\n";
        entry.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)(padded.Length & 0xFF), (byte)(padded.Length >> 8)]);
        entry.Write(Encoding.Latin1.GetBytes(padded));
        var zeros = new byte[1 << 20];
        for (var left = bytes; left > 0; left -= zeros.Length) entry.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
    }

    [GeneratedRegex(@"detail: peak memory (?<mb>\d+) MB")]
    private static partial Regex PeakMemory();
}
