using ModelCompression.Core.Passes.Quantization.Int4;
using static ModelCompression.Core.Tests.Passes.Quantization.QuantizationTestKit;

namespace ModelCompression.Core.Tests.Passes.Quantization.Int4;

public class BlockQuantizerTests
{
    // Weights k·step with codes −8..7: exactly representable by the symmetric form with scale `step`.
    private static float[] OnGrid(int n, int k, int blockSize, int seed)
    {
        var random = new Random(seed);
        var weights = new float[n * k];
        for (var row = 0; row < n; row++)
            for (var start = 0; start < k; start += blockSize)
            {
                var step = 0.01f * (1 + random.Next(20));
                for (var i = start; i < Math.Min(k, start + blockSize); i++) weights[row * k + i] = step * (random.Next(16) - 8);
                weights[row * k + start] = -8 * step; // pins the block's extreme, hence its scale
            }
        return weights;
    }

    [Fact]
    public void Codes_are_packed_two_per_byte_the_even_element_in_the_low_nibble()
    {
        // One row, one block of 16: codes (w / 1) + 8.
        float[] weights = [-8, 7, 0, 1, -1, 2, 3, 4, 5, 6, -2, -3, -4, -5, -6, -7];

        var q = BlockQuantizer.Quantize(weights, n: 1, k: 16, blockSize: 16, symmetric: true);

        Assert.Equal([1f], q.Scales);
        Assert.Null(q.ZeroPoints);
        Assert.Equal(new byte[] { 0xF0, 0x98, 0xA7, 0xCB, 0xED, 0x56, 0x34, 0x12 }, q.Packed);
        Assert.Equal(weights, q.Dequantize());
    }

    [Theory]
    [InlineData(16, 64)]
    [InlineData(32, 96)]
    [InlineData(128, 256)]
    public void Symmetric_weights_on_the_int4_grid_are_reproduced_exactly(int blockSize, int k)
    {
        var weights = OnGrid(5, k, blockSize, seed: blockSize);

        var q = BlockQuantizer.Quantize(weights, 5, k, blockSize, symmetric: true);

        Assert.Equal(weights, q.Dequantize());
        Assert.Equal(5 * (k / blockSize), q.Scales.Length);
        Assert.Equal(5 * (k / blockSize) * blockSize / 2, q.Packed.Length);
    }

    [Fact]
    public void Asymmetric_blocks_get_zero_points_packed_two_blocks_per_byte()
    {
        // Row 0: block 0 spans [0, 15] (zero point 0), block 1 [-15, 0] (15), block 2 [-5, 10] (5).
        var weights = new float[3 * 16];
        for (var i = 0; i < 16; i++)
        {
            weights[i] = i;
            weights[16 + i] = -i;
            weights[32 + i] = i - 5;
        }

        var q = BlockQuantizer.Quantize(weights, n: 1, k: 48, blockSize: 16, symmetric: false);

        Assert.Equal([1f, 1f, 1f], q.Scales);
        Assert.Equal(new byte[] { 0xF0, 0x05 }, q.ZeroPoints);
        Assert.Equal([0, 15, 5], Enumerable.Range(0, 3).Select(b => q.ZeroPoint(0, b)));
        Assert.Equal(weights, q.Dequantize());
    }

    [Fact]
    public void A_last_partial_block_is_padded_with_codes_that_dequantize_to_zero()
    {
        var weights = OnGrid(2, 40, 32, seed: 3); // blocks of 32 and 8 (+ 24 padding); exact in the symmetric form

        foreach (var symmetric in new[] { true, false })
        {
            var q = BlockQuantizer.Quantize(weights, 2, 40, 32, symmetric);

            Assert.Equal(2, q.Blocks);
            Assert.Equal(2 * 2 * 16, q.Packed.Length);
            for (var row = 0; row < 2; row++)
                for (var k = 40; k < 64; k++)
                    Assert.Equal(q.ZeroPoint(row, 1), q.Code(row, k));
            if (symmetric) Assert.Equal(weights, q.Dequantize());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_scale_search_is_never_worse_than_the_plain_range_scale(bool symmetric)
    {
        const int n = 8, k = 256, blockSize = 32;
        // Laplace-distributed, as trained weights roughly are: a few large values in a crowd of small ones.
        var random = new Random(5);
        var weights = Enumerable.Range(0, n * k).Select(_ => (float)(-Math.Log(1 - random.NextDouble()) * (random.Next(2) * 2 - 1))).ToArray();

        var q = BlockQuantizer.Quantize(weights, n, k, blockSize, symmetric);

        var error = SquaredError(weights, q.Dequantize());
        var plain = SquaredError(weights, PlainRange(weights, n, k, blockSize, symmetric));
        Assert.True(error <= plain, $"search {error:G4} vs plain {plain:G4}");
        Assert.True(error < 0.95 * plain, $"clipping should pay off for such weights: search {error:G4} vs plain {plain:G4}");
        TestContext.Current.TestOutputHelper?.WriteLine($"squared error: search {error:G4}, plain {plain:G4}");
    }

    [Fact]
    public void An_all_zero_block_is_exact()
    {
        var q = BlockQuantizer.Quantize(new float[32], 1, 32, 16, symmetric: true);

        Assert.All(q.Dequantize(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(24)]
    public void Block_sizes_that_are_not_powers_of_two_of_at_least_16_are_rejected(int blockSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockQuantizer.Quantize(new float[48], 1, 48, blockSize, true));

    private static double SquaredError(float[] a, float[] b) => a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum();

    // The textbook scales: max|w|/7 (codes −7..7), or (max − min)/15 over the range widened to include 0.
    private static float[] PlainRange(float[] weights, int n, int k, int blockSize, bool symmetric)
    {
        var result = new float[weights.Length];
        for (var row = 0; row < n; row++)
            for (var start = 0; start < k; start += blockSize)
            {
                var block = weights.AsSpan(row * k + start, blockSize);
                float scale, zeroPoint;
                if (symmetric)
                {
                    scale = block.ToArray().Max(Math.Abs) / 7;
                    zeroPoint = 0;
                }
                else
                {
                    var min = Math.Min(0, block.ToArray().Min());
                    var max = Math.Max(0, block.ToArray().Max());
                    scale = (max - min) / 15;
                    zeroPoint = MathF.Round(-min / scale);
                }
                for (var i = 0; i < blockSize; i++)
                {
                    var code = Math.Clamp(MathF.Round(block[i] / scale) + zeroPoint, symmetric ? -8 : 0, symmetric ? 7 : 15);
                    result[row * k + start + i] = (code - zeroPoint) * scale;
                }
            }
        return result;
    }
}
