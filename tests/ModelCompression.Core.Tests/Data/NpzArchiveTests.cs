using System.IO.Compression;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Data;

public class NpzArchiveTests
{
    private static string Fixture(string name) => RepositoryPaths.Combine("tests", "ModelCompression.Core.Tests", "Data", "Fixtures", name);

    // Both files were written by numpy 1.24 (Fixtures/make_fixtures.py): np.savez stores, np.savez_compressed deflates.
    [Theory]
    [InlineData("dtypes.npz")]
    [InlineData("dtypes_compressed.npz")]
    public void Reads_every_dtype_numpy_wrote_with_exact_values(string file)
    {
        using var npz = NpzArchive.Open(Fixture(file), DataSetting.ValidationData);

        Assert.Equal(["f4", "f2", "f8", "i8", "i4", "i2", "i1", "u1", "u2", "u4", "u8", "b1", "i8_3d", "scalar", "empty"], npz.Names);

        var f4 = npz.Read("f4");
        Assert.Equal(DataType.Float, f4.ElementType);
        Assert.Equal(new long[] { 2, 3 }, f4.Shape.ToArray());
        Assert.Equal(new[] { 1.5f, -2.25f, 0f, float.MaxValue }, f4.AsSpan<float>()[..4].ToArray());
        Assert.Equal(1, BitConverter.SingleToInt32Bits(f4.AsSpan<float>()[4]));          // the smallest denormal
        Assert.Equal(unchecked((int)0x80000000), BitConverter.SingleToInt32Bits(f4.AsSpan<float>()[5])); // -0.0

        Assert.Equal(new ushort[] { 0x3800, 0xFBFF, 0x0400 }, npz.Read("f2").AsSpan<Half>().ToArray().Select(BitConverter.HalfToUInt16Bits));
        Assert.Equal(new[] { 1.0 / 3.0, -1e300, double.Epsilon }, npz.Read("f8").AsSpan<double>().ToArray());
        Assert.Equal(new[] { long.MinValue, long.MaxValue, 0 }, npz.Read("i8").AsSpan<long>().ToArray());
        Assert.Equal(new[] { int.MinValue, int.MaxValue, 7 }, npz.Read("i4").AsSpan<int>().ToArray());
        Assert.Equal(new short[] { short.MinValue, short.MaxValue, 1 }, npz.Read("i2").AsSpan<short>().ToArray());
        Assert.Equal(new sbyte[] { sbyte.MinValue, sbyte.MaxValue, 0 }, npz.Read("i1").AsSpan<sbyte>().ToArray());
        Assert.Equal(new byte[] { 0, 200, 255 }, npz.Read("u1").AsSpan<byte>().ToArray());
        Assert.Equal(new ushort[] { 0, ushort.MaxValue, 1000 }, npz.Read("u2").AsSpan<ushort>().ToArray());
        Assert.Equal(new uint[] { 0, uint.MaxValue, 123456789 }, npz.Read("u4").AsSpan<uint>().ToArray());
        Assert.Equal(new ulong[] { 0, ulong.MaxValue, 42 }, npz.Read("u8").AsSpan<ulong>().ToArray());
        Assert.Equal(new[] { true, false, true }, npz.Read("b1").AsSpan<bool>().ToArray());

        var cube = npz.Read("i8_3d");
        Assert.Equal(new long[] { 2, 3, 4 }, cube.Shape.ToArray());
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (long)i), cube.AsSpan<long>().ToArray()); // C order

        var scalar = npz.Read("scalar");
        Assert.Equal(0, scalar.Rank);
        Assert.Equal(2.5f, scalar.AsSpan<float>()[0]);

        var empty = npz.Read("empty");
        Assert.Equal(new long[] { 0, 3 }, empty.Shape.ToArray());
        Assert.Empty(empty.Data);
    }

    /// <summary>A header may claim 2 GB of data in a 100-byte entry: refused before 2 GB are allocated.</summary>
    [Fact]
    public void An_entry_shorter_than_the_data_its_header_declares_is_MC2002_before_allocating()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("claims.npz");
        RawNpy.WriteNpz(path, [new("x", RawNpy.Bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (500000000,), }", RawNpy.DataOf(1f, 2f)))]);
        using var archive = NpzArchive.Open(path, DataSetting.ValidationData);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<CompressionException>(() => archive.Read("x"));

        Assert.Equal(DiagnosticCode.DataInvalid, e.Code);
        Assert.Contains("declares 2,000,000,000 data bytes", e.Message);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the declared size was allocated");
    }

    [Fact]
    public void Headers_are_read_without_the_data()
    {
        using var npz = NpzArchive.Open(Fixture("dtypes_compressed.npz"), DataSetting.ValidationData);

        Assert.Equal(new NpyHeader(DataType.Int64, [2, 3, 4]).ToString(), npz.Header("i8_3d").ToString());
        Assert.Equal(192, npz.Header("i8_3d").DataLength);
        Assert.Equal(0, npz.Header("scalar").Rank);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Written_archives_read_back_identically_stored_or_deflated(bool compressed)
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("data.npz");
        var arrays = new Dictionary<string, NdArray>
        {
            ["input"] = NdArray.Create<float>([100, 4], Enumerable.Range(0, 400).Select(i => (float)(i % 7)).ToArray()),
            ["labels"] = NdArray.Create<long>([100], Enumerable.Range(0, 100).Select(i => (long)(i % 3)).ToArray()),
            ["scalar"] = NdArray.Create<bool>([], [true]),
        };

        NpzArchive.Write(path, arrays, compressed);

        using (var zip = ZipFile.OpenRead(path))
        {
            var entry = zip.GetEntry("input.npy")!;
            if (compressed) Assert.True(entry.CompressedLength < entry.Length / 4);
            else Assert.Equal(entry.Length, entry.CompressedLength);
        }
        using var npz = NpzArchive.Open(path, DataSetting.CalibrationData);
        Assert.Equal(arrays.Keys, npz.Names);
        foreach (var (name, array) in arrays)
        {
            var back = npz.Read(name);
            Assert.Equal(array.ElementType, back.ElementType);
            Assert.Equal(array.Shape.ToArray(), back.Shape.ToArray());
            Assert.Equal(array.Data, back.Data);
        }
    }

    [Theory]
    [InlineData(DataSetting.ValidationData)]
    [InlineData(DataSetting.CalibrationData)]
    public void A_missing_file_is_MC2001_naming_the_setting(DataSetting setting)
    {
        var error = Assert.Throws<CompressionException>(() => NpzArchive.Open("no/such/data.npz", setting));

        Assert.Equal(DiagnosticCode.DataNotFound, error.Code);
        Assert.Equal("no/such/data.npz", error.File);
        Assert.Contains(setting.ToString(), error.Message);
    }

    [Fact]
    public void A_file_that_is_not_a_zip_is_MC2002()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("data.npz");
        File.WriteAllText(path, "input,labels\n1,2\n");

        var error = Assert.Throws<CompressionException>(() => NpzArchive.Open(path, DataSetting.ValidationData));

        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Contains("np.savez", error.Message);
    }

    [Fact]
    public void An_entry_that_is_not_npy_is_MC2002_naming_it()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("data.npz");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Create))
        using (var writer = new StreamWriter(zip.CreateEntry("readme.txt").Open()))
            writer.Write("hello");

        var error = Assert.Throws<CompressionException>(() => NpzArchive.Open(path, DataSetting.ValidationData));

        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Contains("'readme.txt'", error.Message);
    }

    [Fact]
    public void A_damaged_deflated_entry_is_MC2002()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("data.npz");
        NpzArchive.Write(path, [new("x", NdArray.Create<float>([4096], Enumerable.Range(0, 4096).Select(i => (float)Math.Sin(i)).ToArray()))]);
        var bytes = File.ReadAllBytes(path);
        for (var i = 200; i < 1200; i++) bytes[i] ^= 0x5A; // inside the deflated data, past the local header
        File.WriteAllBytes(path, bytes);

        using var npz = NpzArchive.Open(path, DataSetting.ValidationData);
        var error = Assert.Throws<CompressionException>(() => npz.Read("x"));

        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Contains(path, error.Message);
    }

    // Names, dtypes and shapes as /work/shared/models/README.md lists them.
    [Theory]
    [InlineData("digits-mlp", "validation", "input:float:540,64", "labels:int64:540")]
    [InlineData("digits-mlp", "calibration", "input:float:256,64", "labels:int64:256")]
    [InlineData("fashion-cnn", "validation", "input:float:10000,1,28,28", "labels:int64:10000")]
    [InlineData("fashion-cnn", "calibration", "input:float:1000,1,28,28", "labels:int64:1000")]
    [InlineData("ppocr-rec", "validation", "x:float:100,3,48,320")]
    [InlineData("ppocr-rec", "calibration", "x:float:64,3,48,320")]
    [InlineData("ppocr-cls", "validation", "x:float:100,3,48,192", "labels:int64:100")]
    [InlineData("ppocr-cls", "calibration", "x:float:64,3,48,192", "labels:int64:64")]
    [InlineData("silero-vad", "validation", "input:float:1000,1,576", "state:float:1000,2,1,128", "sr:int64:1000")]
    [InlineData("silero-vad", "calibration", "input:float:256,1,576", "state:float:256,2,1,128", "sr:int64:256")]
    public void Reads_the_shared_models_data(string model, string split, params string[] expected)
    {
        var path = Path.Combine(SharedModels.Folder(model), split + ".npz");
        using var npz = NpzArchive.Open(path, DataSetting.ValidationData);

        var actual = npz.Names.Select(n => $"{n}:{ElementTypes.Name(npz.Header(n).ElementType)}:{string.Join(",", npz.Header(n).Shape)}");

        Assert.Equal(expected.Order(), actual.Order());
        // The data itself decompresses to what the header promises (the largest array of each file).
        var largest = npz.Names.MaxBy(n => npz.Header(n).DataLength)!;
        Assert.Equal(npz.Header(largest).DataLength, npz.Read(largest).Data.LongLength);
    }

    [Fact]
    public void Reads_a_standalone_npy_of_the_shared_models()
    {
        var path = Path.Combine(SharedModels.Folder("silero-vad"), "validation.frame_labels.npy");
        using var stream = File.OpenRead(path);

        var labels = Npy.Read(stream, path, "frame_labels");

        Assert.Equal(DataType.Bool, labels.ElementType);
        Assert.Equal(new long[] { 1000 }, labels.Shape.ToArray());
        Assert.Equal(557, labels.AsSpan<bool>().ToArray().Count(b => b)); // README: 557 speech
    }
}
