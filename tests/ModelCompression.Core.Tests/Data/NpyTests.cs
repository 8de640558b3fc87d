using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Data;

public class NpyTests
{
    private static string Fixture(string name) => RepositoryPaths.Combine("tests", "ModelCompression.Core.Tests", "Data", "Fixtures", name);

    [Theory]
    [InlineData("version2.npy")]
    [InlineData("version3.npy")]
    public void Reads_format_versions_2_and_3(string file)
    {
        using var stream = File.OpenRead(Fixture(file));

        var array = Npy.Read(stream, file, "x");

        Assert.Equal(DataType.Float, array.ElementType);
        Assert.Equal(new long[] { 2, 3 }, array.Shape.ToArray());
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, array.AsSpan<float>().ToArray());
    }

    [Theory]
    [InlineData("fortran.npy", "Fortran (column-major) order", "np.ascontiguousarray")]
    [InlineData("bigendian.npy", "big-endian", "x.astype('<f4')")]
    [InlineData("object.npy", "Python objects", "astype(np.float32)")]
    [InlineData("structured.npy", "structured dtype", "save each field as its own array")]
    [InlineData("strings.npy", "holds strings", "numeric array")]
    public void Arrays_a_model_cannot_take_are_MC2002_errors_that_say_how_to_save_them(string file, string problem, string fix)
    {
        using var stream = File.OpenRead(Fixture(file));

        var error = Assert.Throws<CompressionException>(() => Npy.Read(stream, "data.npz", "x"));

        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Equal("data.npz", error.File);
        Assert.Contains("'data.npz'", error.Message);
        Assert.Contains("'x'", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains(fix, error.Message);
    }

    [Theory]
    [InlineData("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }")]
    [InlineData("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3)}")]
    [InlineData("{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2,3,),}")]
    [InlineData("{'shape': (2L, 3L), 'fortran_order': False, 'descr': '<i8'}")]
    [InlineData("  {  'descr' :'<i8' ,\n 'fortran_order':False,'shape':( 2 , 3 ) , }  ")]
    public void Header_dicts_are_parsed_as_python_writes_them(string header)
    {
        var array = ReadRaw(header, RawNpy.DataOf<long>(1, 2, 3, 4, 5, 6));

        Assert.Equal(new long[] { 2, 3 }, array.Shape.ToArray());
        Assert.Equal(new long[] { 1, 2, 3, 4, 5, 6 }, array.AsSpan<long>().ToArray());
    }

    [Fact]
    public void A_scalar_has_shape_unit_and_a_one_tuple_may_end_with_a_comma()
    {
        var scalar = ReadRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", RawNpy.DataOf(2.5f));
        var vector = ReadRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", RawNpy.DataOf(2.5f));

        Assert.Equal(0, scalar.Rank);
        Assert.Equal(2.5f, scalar.AsSpan<float>()[0]);
        Assert.Equal(new long[] { 1 }, vector.Shape.ToArray());
    }

    [Fact]
    public void Fortran_order_of_a_vector_is_the_same_layout_and_is_read()
    {
        var array = ReadRaw("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", RawNpy.DataOf(1f, 2f));

        Assert.Equal(new[] { 1f, 2f }, array.AsSpan<float>().ToArray());
    }

    [Theory]
    [InlineData("{'descr': '=f4', 'fortran_order': False, 'shape': (2,), }", "does not say its byte order")]
    [InlineData("{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", "does not say its byte order")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "complex numbers")]
    [InlineData("{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,), }", "dates or time spans")]
    [InlineData("{'descr': '<f4', 'shape': (2,), }", "without 'descr', 'fortran_order' and 'shape'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1), }", "not a tuple of sizes")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", "unreadable header")]
    [InlineData("['descr', '<f4']", "not a Python dict")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "unreadable header")]
    public void Bad_headers_are_MC2002_errors(string header, string problem)
    {
        var error = Assert.Throws<CompressionException>(() => ReadRaw(header, RawNpy.DataOf(1f, 2f)));

        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void A_header_longer_than_numpy_reads_is_MC2002_and_the_longest_it_reads_is_read()
    {
        const string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";

        var longest = ReadRaw(dict.PadRight(9_999), RawNpy.DataOf(1f, 2f)); // 10,000 bytes with its '\n'
        var error = Assert.Throws<CompressionException>(() => ReadRaw(dict.PadRight(10_000), RawNpy.DataOf(1f, 2f)));

        Assert.Equal(new[] { 1f, 2f }, longest.AsSpan<float>().ToArray());
        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Contains("10001-byte header", error.Message);
        Assert.Contains("10000", error.Message);
    }

    [Fact]
    public void A_header_nested_deeper_than_any_dtype_needs_is_MC2002_with_a_short_message()
    {
        var shape = new string('(', 4_000) + "2," + new string(')', 4_000);

        var error = Assert.Throws<CompressionException>(() => ReadRaw($"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}", RawNpy.DataOf(1f, 2f)));

        Assert.Equal(DiagnosticCode.DataInvalid, error.Code);
        Assert.Contains("nested", error.Message);
        Assert.True(error.Message.Length < 1_000, $"The message quotes the whole header: {error.Message.Length} characters.");
    }

    [Fact]
    public void One_byte_types_take_any_byte_order_mark()
    {
        var array = ReadRaw("{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", [7, 9]);

        Assert.Equal(new byte[] { 7, 9 }, array.AsSpan<byte>().ToArray());
    }

    [Fact]
    public void Truncated_data_and_a_wrong_magic_are_MC2002_errors()
    {
        var full = RawNpy.Bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", RawNpy.DataOf(1f, 2f, 3f, 4f));

        var truncated = Assert.Throws<CompressionException>(() => Npy.Read(new MemoryStream(full[..^3]), "d.npz", "x"));
        var cutHeader = Assert.Throws<CompressionException>(() => Npy.Read(new MemoryStream(full[..20]), "d.npz", "x"));
        full[1] = (byte)'X';
        var notNpy = Assert.Throws<CompressionException>(() => Npy.Read(new MemoryStream(full), "d.npz", "x"));

        Assert.Contains("truncated", truncated.Message);
        Assert.Contains("truncated", cutHeader.Message);
        Assert.Contains("magic", notNpy.Message);
        Assert.All([truncated, cutHeader, notNpy], e => Assert.Equal(DiagnosticCode.DataInvalid, e.Code));
    }

    [Fact]
    public void Writing_then_reading_keeps_every_element_type_and_shape()
    {
        NdArray[] arrays =
        [
            NdArray.Create<float>([2, 2], [1.5f, float.NaN, float.NegativeInfinity, -0f]),
            NdArray.Create<Half>([2], [(Half)0.5f, Half.MaxValue]),
            NdArray.Create<double>([1], [Math.PI]),
            NdArray.Create<long>([3], [long.MinValue, 0, long.MaxValue]),
            NdArray.Create<int>([2, 1], [int.MinValue, int.MaxValue]),
            NdArray.Create<short>([2], [short.MinValue, short.MaxValue]),
            NdArray.Create<sbyte>([2], [sbyte.MinValue, sbyte.MaxValue]),
            NdArray.Create<byte>([2], [0, 255]),
            NdArray.Create<ushort>([1], [ushort.MaxValue]),
            NdArray.Create<uint>([1], [uint.MaxValue]),
            NdArray.Create<ulong>([1], [ulong.MaxValue]),
            NdArray.Create<bool>([3], [true, false, true]),
            NdArray.Create<float>([], [42f]),
            NdArray.Create<float>([0, 5], []),
        ];
        foreach (var array in arrays)
        {
            var stream = new MemoryStream();
            Npy.Write(stream, array);
            var bytes = stream.ToArray();

            var back = Npy.Read(new MemoryStream(bytes), "round-trip", "x");

            Assert.Equal(array.ElementType, back.ElementType);
            Assert.Equal(array.Shape.ToArray(), back.Shape.ToArray());
            Assert.Equal(array.Data, back.Data);
            Assert.Equal(0, (bytes.Length - array.Data.Length) % 64); // numpy's alignment of the data
            Assert.Equal((byte)'\n', bytes[bytes.Length - array.Data.Length - 1]);
        }
    }

    private static NdArray ReadRaw(string header, byte[] data) => Npy.Read(new MemoryStream(RawNpy.Bytes(header, data)), "raw.npz", "x");
}
