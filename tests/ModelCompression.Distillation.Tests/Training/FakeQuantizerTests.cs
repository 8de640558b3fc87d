using ModelCompression.Core.Distillation;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Native;
using ModelCompression.Distillation.Training;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Tests.Training;

public sealed class FakeQuantizerTests
{
    public FakeQuantizerTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData(8, 0)]
    [InlineData(4, 0)]
    [InlineData(8, 1)]
    [InlineData(4, 2)]
    public void Integer_rounding_is_cores_per_channel_quantizer(int bits, int axis)
    {
        var weight = MlpStudent.Normal(new Random(bits + axis), [6, 5, 3], 0.5);
        using var quantizer = new FakeQuantizer(new WeightQuantization(bits, ChannelAxis: axis));
        using var values = tensor(weight.AsSpan<float>().ToArray(), weight.Shape.ToArray());

        using var quantized = quantizer.Quantize(values);

        var expected = Scenario.Dequantized(weight, qmax: (1 << (bits - 1)) - 1, axis);
        Assert.Equal(expected.AsSpan<float>().ToArray(), quantized.data<float>().ToArray());
    }

    [Fact]
    public void Int4_blocks_are_cores_int4_pass_each_block_with_its_own_scale()
    {
        // Each row: a block of small values, then a block holding one large value. With one scale per row the large
        // value's step rounds every small value to zero; per block they keep their own scale.
        var random = new Random(4);
        var rows = Enumerable.Range(0, 3).SelectMany(_ => Enumerable.Range(0, 32).Select(k => (float)((random.NextDouble() - 0.5) * (k < 16 ? 0.02 : 0.5) + (k == 20 ? 4 : 0)))).ToArray();
        using var blockwise = new FakeQuantizer(new WeightQuantization(4, BlockSize: 16));
        using var perChannel = new FakeQuantizer(new WeightQuantization(4));
        using var weight = tensor(rows, [3, 32]);
        Assert.Throws<InvalidOperationException>(() => blockwise.Quantize(weight));

        blockwise.Refresh(weight);
        using var quantized = blockwise.Quantize(weight);
        using var coarse = perChannel.Quantize(weight);

        var expected = BlockQuantizer.Quantize(rows, 3, 32, 16, symmetric: true).Dequantize();
        Assert.Equal(expected, quantized.data<float>().ToArray());
        Assert.Contains(quantized.data<float>().ToArray().Take(16), v => v != 0);
        Assert.All(coarse.data<float>().ToArray().Take(16), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(24)]
    public void Int4_blocks_that_the_int4_pass_cannot_store_are_refused(int blockSize) =>
        Assert.Throws<ArgumentException>(() => new FakeQuantizer(new WeightQuantization(4, BlockSize: blockSize)));

    [Fact]
    public void A_palette_reads_the_nearest_of_k_centroids_refitted_on_refresh()
    {
        var weight = MlpStudent.Normal(new Random(3), [8, 16], 1);
        using var quantizer = new FakeQuantizer(new WeightQuantization(0, PaletteSize: 4));
        using var values = tensor(weight.AsSpan<float>().ToArray(), weight.Shape.ToArray());
        Assert.Throws<InvalidOperationException>(() => quantizer.Quantize(values));

        quantizer.Refresh(values);
        using var quantized = quantizer.Quantize(values);

        var original = weight.AsSpan<float>().ToArray();
        var read = quantized.data<float>().ToArray();
        var palette = read.Distinct().Order().ToArray();
        Assert.Equal(4, palette.Length);
        for (var i = 0; i < original.Length; i++)
            Assert.Equal(palette.Min(c => Math.Abs(c - original[i])), Math.Abs(read[i] - original[i]), 6);

        using var shifted = values + 10;
        quantizer.Refresh(shifted);
        using var requantized = quantizer.Quantize(shifted);
        Assert.All(requantized.data<float>().ToArray(), v => Assert.True(v > 5));
    }

    [Theory]
    [InlineData(4, 0, 0)]
    [InlineData(8, 0, 0)]
    [InlineData(4, 16, 0)]
    [InlineData(8, 4, 0)]
    [InlineData(0, 0, 4)]
    public void The_forward_value_is_rounded_and_the_gradient_passes_straight_through(int bits, int blockSize, int paletteSize)
    {
        var weight = MlpStudent.Normal(new Random(1), [4, 8], 1);
        using var quantizer = new FakeQuantizer(new WeightQuantization(bits, blockSize, paletteSize));
        using var parameter = tensor(weight.AsSpan<float>().ToArray(), [4, 8]).requires_grad_();
        quantizer.Refresh(parameter);
        using var coefficients = arange(32, dtype: ScalarType.Float32).reshape(4, 8);

        using var read = quantizer.StraightThrough(parameter);
        using var loss = (read * coefficients).sum();
        loss.backward();

        using var expected = quantizer.Quantize(parameter);
        Assert.Equal(expected.data<float>().ToArray(), read.detach().data<float>().ToArray());
        Assert.NotEqual(weight.AsSpan<float>().ToArray(), read.detach().data<float>().ToArray());
        Assert.Equal(coefficients.data<float>().ToArray(), parameter.grad!.data<float>().ToArray()); // d(Σ c·q(w))/dw = c
    }

    [Theory]
    [InlineData(3, 0, 0)]
    [InlineData(4, -1, 0)]
    [InlineData(0, 0, 0)]
    public void Unsupported_forms_are_refused(int bits, int blockSize, int paletteSize) =>
        Assert.Throws<ArgumentException>(() => new FakeQuantizer(new WeightQuantization(bits, blockSize, paletteSize)));
}
