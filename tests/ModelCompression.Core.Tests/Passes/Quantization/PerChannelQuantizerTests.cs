using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Tests.Passes.Quantization;

public class PerChannelQuantizerTests
{
    [Fact]
    public void Each_channel_gets_its_own_scale_from_its_largest_magnitude()
    {
        // Shape [2, 3], channel axis 0: rows are channels.
        float[] weights = [0.5f, -1.27f, 0.1f, 2.54f, 0f, -0.02f];

        var (codes, scales) = PerChannelQuantizer.Quantize(weights, [2, 3], axis: 0);

        Assert.Equal([0.01f, 0.02f], scales);
        Assert.Equal(new sbyte[] { 50, -127, 10, 127, 0, -1 }, codes);
    }

    [Fact]
    public void The_last_axis_works_as_channel_axis()
    {
        float[] weights = [1f, 10f, -0.5f, 5f];

        var (codes, scales) = PerChannelQuantizer.Quantize(weights, [2, 2], axis: 1);

        Assert.Equal([1f / 127, 10f / 127], scales);
        Assert.Equal(new sbyte[] { 127, 127, -64, 64 }, codes);
    }

    [Fact]
    public void An_all_zero_channel_is_exact()
    {
        var (codes, scales) = PerChannelQuantizer.Quantize([0f, 0f, 3f, -3f], [2, 2], axis: 0);

        Assert.Equal(1f, scales[0]);
        Assert.Equal(new sbyte[] { 0, 0, 127, -127 }, codes);
    }
}
