using ModelCompression.EndToEnd.Tests.Harness;
using ModelCompression.Testing;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// A model is untrusted input (issue 7): whatever its tensors' external-data entries say, the worker
/// reads no file outside the model's folder, and a malformed entry is a coded error, never a crash.
/// </summary>
public sealed class UntrustedModelFileTests
{
    [Fact]
    public void A_location_climbing_out_of_the_model_folder_is_MC1006_and_nothing_is_read()
    {
        using var folder = new UntrustedModelFolder();

        var result = folder.Compress(ExternalWeightModel.Create("../secret.bin"));

        result.AssertFailsWith("MC1006");
        Assert.Contains("'w'", result.Output);
        Assert.Contains("'../secret.bin'", result.Output);
        folder.AssertNoFileHoldsTheSecret();
    }

    [Fact]
    public void An_absolute_location_outside_the_model_folder_is_MC1006_and_nothing_is_read()
    {
        using var folder = new UntrustedModelFolder();

        var result = folder.Compress(ExternalWeightModel.Create(folder.SecretPath));

        result.AssertFailsWith("MC1006");
        Assert.Contains(folder.SecretPath, result.Output);
        folder.AssertNoFileHoldsTheSecret();
    }

    [Fact]
    public void A_symbolic_link_in_the_model_folder_to_a_file_outside_is_MC1006_and_nothing_is_read()
    {
        using var folder = new UntrustedModelFolder();
        File.Delete(folder.WeightsPath);
        File.CreateSymbolicLink(folder.WeightsPath, folder.SecretPath);

        var result = folder.Compress(ExternalWeightModel.Create("weights.bin"));

        result.AssertFailsWith("MC1006");
        Assert.Contains("'weights.bin'", result.Output);
        folder.AssertNoFileHoldsTheSecret();
    }

    [Fact]
    public void An_offset_that_is_not_a_number_is_MC1002_naming_it()
    {
        using var folder = new UntrustedModelFolder();

        var result = folder.Compress(ExternalWeightModel.Create("weights.bin", offset: "sixty-four"));

        result.AssertFailsWith("MC1002");
        Assert.Contains("'sixty-four'", result.Output);
    }

    [Fact]
    public void A_length_past_the_end_of_the_file_is_MC1004_even_when_offset_plus_length_overflows()
    {
        using var folder = new UntrustedModelFolder();

        var result = folder.Compress(ExternalWeightModel.Create("weights.bin", offset: "8", length: long.MaxValue.ToString()));

        result.AssertFailsWith("MC1004");
        Assert.Contains($"{ExternalWeightModel.WeightBytes} bytes", result.Output);
    }

    [Fact]
    public void Dims_far_larger_than_the_data_are_MC1004_before_anything_is_allocated()
    {
        using var folder = new UntrustedModelFolder();

        var result = folder.Compress(ExternalWeightModel.Create("weights.bin", dims: [1_000_000, 1_000_000]));

        result.AssertFailsWith("MC1004");
        Assert.Contains("[1000000, 1000000]", result.Output);
    }

    /// <summary>A file past protobuf's 2 GB limit (here a 3 GB sparse file) is refused before it is read, not an out-of-memory crash.</summary>
    [Fact]
    public void A_model_file_over_2_GB_is_MC1002_before_it_is_read()
    {
        using var folder = new WorkerFolder();
        using (var file = File.Create(folder.ModelPath)) file.SetLength(3L << 30);

        var run = WorkerCli.Run(folder.Path, "compress", folder.ModelPath, "--output", folder.OutputPath).AssertFailsWith("MC1002");

        Assert.Contains("more than the 2 GB an ONNX (protobuf) file can hold", run.Output);
    }
}
