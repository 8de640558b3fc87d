using Google.Protobuf;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Onnx;

/// <summary>
/// External data of an untrusted model (issue 7): only files inside the model's folder are read, and every
/// malformed entry is a coded error raised before a byte is read or a buffer allocated.
/// </summary>
public sealed class ExternalDataTests : IDisposable
{
    private static readonly byte[] Weights = RawNpy.DataOf(Enumerable.Range(0, 16).Select(i => i + 0.5f).ToArray());
    private static readonly byte[] Secret = Enumerable.Repeat("SECRET!!"u8.ToArray(), 8).SelectMany(b => b).ToArray();
    private readonly TempDirectory _root = new("mc-external");

    public ExternalDataTests()
    {
        Directory.CreateDirectory(_root.Combine("model"));
        File.WriteAllBytes(_root.Combine("model", "weights.bin"), Weights);
        File.WriteAllBytes(_root.Combine("secret.bin"), Secret);
    }

    private string ModelPath => _root.Combine("model", "model.onnx");

    private string SecretPath => _root.Combine("secret.bin");

    public void Dispose() => _root.Dispose();

    [Fact]
    public void A_location_inside_the_folder_is_read()
    {
        var model = Load(ExternalWeightModel.Create("weights.bin", offset: "0", length: "64"));

        Assert.Equal(Weights, WeightBytes(model));
    }

    [Fact]
    public void A_symbolic_link_to_a_file_inside_the_folder_is_followed()
    {
        Directory.CreateDirectory(_root.Combine("model", "real"));
        File.Move(_root.Combine("model", "weights.bin"), _root.Combine("model", "real", "weights.bin"));
        File.CreateSymbolicLink(_root.Combine("model", "weights.bin"), "real/weights.bin");

        Assert.Equal(Weights, WeightBytes(Load(ExternalWeightModel.Create("weights.bin"))));
    }

    [Fact]
    public void A_model_folder_reached_through_a_symbolic_link_reads_its_own_files()
    {
        var linked = _root.Combine("linked");
        Directory.CreateSymbolicLink(linked, _root.Combine("model"));
        File.WriteAllBytes(Path.Combine(linked, "model.onnx"), ExternalWeightModel.Create("weights.bin").ToByteArray());

        Assert.Equal(Weights, WeightBytes(OnnxModelFile.Load(Path.Combine(linked, "model.onnx"))));
    }

    [Theory]
    [InlineData("../secret.bin")]
    [InlineData("../../../../../../../../../secret.bin")]
    [InlineData("sub/../../secret.bin")]
    public void A_relative_location_leading_out_of_the_folder_is_MC1006(string location)
    {
        AssertOutside(ExternalWeightModel.Create(location), location);
    }

    [Fact]
    public void An_absolute_location_outside_the_folder_is_MC1006()
    {
        AssertOutside(ExternalWeightModel.Create(SecretPath), SecretPath);
    }

    [Fact]
    public void A_symbolic_link_to_a_file_outside_the_folder_is_MC1006()
    {
        File.CreateSymbolicLink(_root.Combine("model", "link.bin"), SecretPath);

        AssertOutside(ExternalWeightModel.Create("link.bin"), "link.bin");
    }

    [Fact]
    public void A_symbolic_link_to_a_folder_outside_is_MC1006()
    {
        Directory.CreateSymbolicLink(_root.Combine("model", "sub"), _root.Path);

        AssertOutside(ExternalWeightModel.Create("sub/secret.bin"), "sub/secret.bin");
    }

    [Fact]
    public void The_model_fingerprint_refuses_a_location_outside_the_folder_too()
    {
        File.WriteAllBytes(ModelPath, ExternalWeightModel.Create("../secret.bin").ToByteArray());

        var e = Assert.Throws<CompressionException>(() => ContentHash.OfModelFile(ModelPath));

        Assert.Equal(DiagnosticCode.ExternalDataOutsideModelFolder, e.Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("weights\0.bin")]
    public void An_empty_location_or_one_with_a_NUL_is_MC1002(string location)
    {
        var e = LoadFails(ExternalWeightModel.Create(location));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
        Assert.Contains("'w'", e.Message);
    }

    [Theory]
    [InlineData(".")]
    [InlineData("sub")]
    public void A_location_that_is_a_folder_is_MC1004(string location)
    {
        Directory.CreateDirectory(_root.Combine("model", "sub"));

        var e = LoadFails(ExternalWeightModel.Create(location));

        Assert.Equal(DiagnosticCode.ExternalDataMissing, e.Code);
        Assert.Contains("folder", e.Message);
    }

    [Theory]
    [InlineData("abc", null)]
    [InlineData("-8", null)]
    [InlineData("1e3", null)]
    [InlineData("0x10", null)]
    [InlineData(" 8", null)]
    [InlineData("99999999999999999999", null)]
    [InlineData(null, "sixty-four")]
    [InlineData(null, "-64")]
    public void An_offset_or_length_that_is_not_a_non_negative_integer_is_MC1002_naming_it(string? offset, string? length)
    {
        var e = LoadFails(ExternalWeightModel.Create("weights.bin", offset, length));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
        Assert.Contains($"'{offset ?? length}'", e.Message);
        Assert.Contains("'w'", e.Message);
    }

    [Theory]
    [InlineData("8", "64")]
    [InlineData("65", null)]
    [InlineData("8", "9223372036854775807")]
    [InlineData("9223372036854775807", "64")]
    public void A_range_past_the_end_of_the_file_is_MC1004(string offset, string? length)
    {
        var e = LoadFails(ExternalWeightModel.Create("weights.bin", offset, length));

        Assert.Equal(DiagnosticCode.ExternalDataMissing, e.Code);
        Assert.Contains("64 bytes", e.Message);
    }

    [Fact]
    public void Dims_far_larger_than_the_file_are_MC1004_without_allocating_them()
    {
        var e = LoadFails(ExternalWeightModel.Create("weights.bin", dims: [1_000_000, 1_000_000]));

        Assert.Equal(DiagnosticCode.ExternalDataMissing, e.Code);
        Assert.Contains("[1000000, 1000000]", e.Message);
    }

    [Fact]
    public void Dims_whose_byte_count_overflows_are_MC1002()
    {
        var e = LoadFails(ExternalWeightModel.Create("weights.bin", dims: [long.MaxValue, long.MaxValue, 4]));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
    }

    [Fact]
    public void A_length_that_disagrees_with_the_dims_is_MC1002()
    {
        var e = LoadFails(ExternalWeightModel.Create("weights.bin", offset: "0", length: "32"));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
        Assert.Contains("32", e.Message);
        Assert.Contains("64", e.Message);
    }

    [Fact]
    public void A_negative_dim_is_MC1002()
    {
        var e = LoadFails(ExternalWeightModel.Create("weights.bin", dims: [-4, -4]));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
    }

    [Fact]
    public void A_key_given_twice_is_MC1002()
    {
        var e = LoadFails(ExternalWeightModel.Create([("location", "weights.bin"), ("location", "../secret.bin")]));

        Assert.Equal(DiagnosticCode.ModelInvalid, e.Code);
        Assert.Contains("'location'", e.Message);
    }

    /// <summary>Without a length the tensor takes the bytes its dims need, so several tensors can share one file.</summary>
    [Fact]
    public void Without_a_length_the_tensor_reads_the_bytes_its_dims_need()
    {
        File.WriteAllBytes(_root.Combine("model", "weights.bin"), [.. Weights, .. new byte[16]]);

        Assert.Equal(Weights, WeightBytes(Load(ExternalWeightModel.Create("weights.bin"))));
    }

    private ModelProto Load(ModelProto model)
    {
        File.WriteAllBytes(ModelPath, model.ToByteArray());
        return OnnxModelFile.Load(ModelPath);
    }

    private CompressionException LoadFails(ModelProto model) => Assert.Throws<CompressionException>(() => Load(model));

    private void AssertOutside(ModelProto model, string location)
    {
        var e = LoadFails(model);

        Assert.Equal(DiagnosticCode.ExternalDataOutsideModelFolder, e.Code);
        Assert.Equal(ModelPath, e.File);
        Assert.Contains("'w'", e.Message);
        Assert.Contains($"'{location}'", e.Message);
        Assert.Contains("model's folder", e.Message);
    }

    private static byte[] WeightBytes(ModelProto model) =>
        TensorProtoConverter.ToNdArray(model.Graph.Initializer.Single()).Data;
}
