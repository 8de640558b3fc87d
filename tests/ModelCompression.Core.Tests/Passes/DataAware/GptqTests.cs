using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.DataAware;

public sealed class GptqTests
{
    [Fact]
    public void Int8_per_channel_gptq_has_a_smaller_held_out_output_error_than_nearest_rounding()
    {
        var layer = new SyntheticLayer(64, 128);
        var (nearestCodes, nearestScales) = PerChannelQuantizer.Quantize(layer.Weights, [64, 128], 0);
        var (codes, scales) = GptqPerChannel.Quantize(layer.Weights, 64, 128, [layer.Hessian]);

        Assert.Equal(nearestScales, scales); // same grid: only the codes move
        var (nearest, gptq) = (layer.Error(SyntheticLayer.Dequantize(nearestCodes, nearestScales, 128)), layer.Error(SyntheticLayer.Dequantize(codes, scales, 128)));
        Assert.True(gptq < 0.8 * nearest, $"GPTQ {gptq:E3} against nearest {nearest:E3}");
    }

    [Theory]
    [InlineData(true, 32)]
    [InlineData(false, 32)]
    [InlineData(true, 128)]
    public void Int4_blockwise_gptq_has_a_smaller_held_out_output_error_than_nearest_rounding(bool symmetric, int block)
    {
        var layer = new SyntheticLayer(48, 256);
        var nearest = layer.Error(BlockQuantizer.Quantize(layer.Weights, 48, 256, block, symmetric).Dequantize());
        var quantized = GptqBlockwise.Quantize(layer.Weights, 48, 256, block, symmetric, layer.Hessian);

        Assert.Equal((48, 256, block), (quantized.N, quantized.K, quantized.BlockSize));
        var gptq = layer.Error(quantized.Dequantize());
        Assert.True(gptq < 0.8 * nearest, $"GPTQ {gptq:E3} against nearest {nearest:E3}");
    }

    [Fact]
    public void Grouped_conv_gptq_rounds_each_group_with_its_own_moments_and_beats_nearest()
    {
        const int groups = 2, channels = 8, outputs = 16, k = channels / groups * 9;
        var calibration = Im2Col.Patches(CorrelatedInputs.Images(24, channels, 10, 10, seed: 3), 3, pad: 1, groups: groups);
        var heldOut = Im2Col.Patches(CorrelatedInputs.Images(8, channels, 10, 10, seed: 4), 3, pad: 1, groups: groups);
        var moments = CorrelatedInputs.Moments(calibration, k);
        var weights = CorrelatedInputs.Gaussians(outputs * k, 5, 1 / Math.Sqrt(k)); // [M, C/group, 3, 3] is already rows
        var hessians = Enumerable.Range(0, groups).Select(g => InputHessian.Of(moments.Of(g), k)).ToList();

        var (nearestCodes, nearestScales) = PerChannelQuantizer.Quantize(weights, [outputs, channels / groups, 3, 3], 0);
        var (codes, scales) = GptqPerChannel.Quantize(weights, outputs, k, hessians);

        double Error(float[] approximation) => Enumerable.Range(0, groups).Sum(g =>
        {
            var rows = outputs / groups * k;
            return CorrelatedInputs.RelativeOutputError(weights.AsSpan(g * rows, rows), approximation.AsSpan(g * rows, rows), heldOut[g], k);
        });
        var (nearest, gptq) = (Error(SyntheticLayer.Dequantize(nearestCodes, nearestScales, k)), Error(SyntheticLayer.Dequantize(codes, scales, k)));
        Assert.True(gptq < nearest, $"GPTQ {gptq:E3} against nearest {nearest:E3}");
    }

    [Fact]
    public void With_uncorrelated_equal_inputs_gptq_is_nearest_rounding_byte_for_byte()
    {
        // H = I: H⁻¹'s Cholesky factor is diagonal, no error is fed forward, and the grids are the passes' own.
        var layer = new SyntheticLayer(16, 64);
        var identity = InputHessian.Of(Enumerable.Range(0, 64 * 64).Select(i => i / 64 == i % 64 ? 1f : 0f).ToArray(), 64);

        Assert.Equal(PerChannelQuantizer.Quantize(layer.Weights, [16, 64], 0), GptqPerChannel.Quantize(layer.Weights, 16, 64, [identity]), TupleComparer.Instance);
        var (nearest, gptq) = (BlockQuantizer.Quantize(layer.Weights, 16, 64, 32, false), GptqBlockwise.Quantize(layer.Weights, 16, 64, 32, false, identity));
        Assert.Equal(nearest.Packed, gptq.Packed);
        Assert.Equal(nearest.Scales, gptq.Scales);
        Assert.Equal(nearest.ZeroPoints, gptq.ZeroPoints);
    }

    [Fact]
    public void Dead_inputs_get_code_zero_and_the_same_bytes_come_out_every_run()
    {
        var layer = new SyntheticLayer(32, 64);
        var matrix = layer.Moments.Matrix.ToArray();
        foreach (var dead in new[] { 3, 40 })
            for (var i = 0; i < 64; i++) matrix[dead * 64 + i] = matrix[i * 64 + dead] = 0;
        var hessian = InputHessian.Of(matrix, 64);

        var first = GptqBlockwise.Quantize(layer.Weights, 32, 64, 16, true, hessian);
        var second = GptqBlockwise.Quantize(layer.Weights, 32, 64, 16, true, InputHessian.Of(matrix, 64));

        Assert.Equal(first.Packed, second.Packed);
        Assert.Equal(first.Scales, second.Scales);
        Assert.All(Enumerable.Range(0, 32), n => Assert.Equal((8, 8), (first.Code(n, 3), first.Code(n, 40))));
    }

    [Fact]
    public void Rows_swept_in_tiles_and_vectorised_see_the_bytes_of_the_textbook_row_by_row_sweep()
    {
        // 37 rows: two full tiles and a partial one; 300 inputs: a partial last lazy block.
        const int n = 37, k = 300;
        var layer = new SyntheticLayer(n, k);
        var hessian = layer.Hessian;
        var (tiled, textbook) = (new EighthsGrid(n * k, k), new EighthsGrid(n * k, k));

        var swept = Gptq.Run(layer.Weights, n, k, hessian, tiled);

        Assert.Equal(TextbookSweep(layer.Weights, n, k, hessian.InverseCholeskyUpper(), textbook), swept);
        Assert.Equal(textbook.Seen, tiled.Seen); // every weight as updated when it was rounded, to the last bit
        Assert.Contains(swept.Select((v, i) => v - layer.Weights[i]), d => Math.Abs(d) > 1.0 / 16); // errors were fed forward
    }

    // GPTQ as the paper writes it: each row alone, every rounding error fed to every later column at once.
    private static double[] TextbookSweep(float[] weights, int n, int k, double[] upper, IGptqGrid grid)
    {
        var result = new double[n * k];
        for (var r = 0; r < n; r++)
        {
            var w = weights.AsSpan(r * k, k).ToArray().Select(v => (double)v).ToArray();
            for (var j = 0; j < k; j++)
            {
                var q = result[r * k + j] = grid.Round(r, j, w);
                var error = (w[j] - q) / upper[j * k + j];
                for (var i = j + 1; i < k; i++) w[i] -= error * upper[j * k + i];
            }
        }
        return result;
    }

    /// <summary>Rounds to multiples of 1/8, recording each weight as the sweep had updated it.</summary>
    private sealed class EighthsGrid(int elements, int k) : IGptqGrid
    {
        public double[] Seen { get; } = new double[elements];

        public double Round(int row, int column, ReadOnlySpan<double> current)
        {
            Seen[row * k + column] = current[column];
            return Math.Round(current[column] * 8) / 8;
        }
    }

    private sealed class TupleComparer : IEqualityComparer<(sbyte[] Codes, float[] Scales)>
    {
        public static TupleComparer Instance { get; } = new();

        public bool Equals((sbyte[] Codes, float[] Scales) x, (sbyte[] Codes, float[] Scales) y) =>
            x.Codes.SequenceEqual(y.Codes) && x.Scales.SequenceEqual(y.Scales);

        public int GetHashCode((sbyte[] Codes, float[] Scales) obj) => obj.Codes.Length;
    }
}
