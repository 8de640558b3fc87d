using ModelCompression.Core.Tensors;

namespace ModelCompression.Testing;

/// <summary>
/// The rows a Conv multiplies its weight with: for each output position, the patch of the input under the kernel,
/// channel-major (c, ky, kx) like the weight's inner axes, one set of rows per group (zero padding, stride, no dilation).
/// </summary>
public static class Im2Col
{
    /// <param name="images">[N, C, H, W].</param>
    /// <returns>Per group, rows of C/group·kernel² values.</returns>
    public static float[][] Patches(NdArray images, int kernel, int pad = 0, int stride = 1, int groups = 1)
    {
        var shape = images.Shape.ToArray();
        var (n, c, h, w) = ((int)shape[0], (int)shape[1], (int)shape[2], (int)shape[3]);
        var values = images.ToFloats();
        var (outH, outW) = ((h + 2 * pad - kernel) / stride + 1, (w + 2 * pad - kernel) / stride + 1);
        var perGroup = c / groups;
        var k = perGroup * kernel * kernel;
        var result = new float[groups][];
        for (var g = 0; g < groups; g++)
        {
            var rows = result[g] = new float[n * outH * outW * k];
            var row = 0;
            for (var image = 0; image < n; image++)
                for (var oy = 0; oy < outH; oy++)
                    for (var ox = 0; ox < outW; ox++, row++)
                        for (var ci = 0; ci < perGroup; ci++)
                            for (var ky = 0; ky < kernel; ky++)
                                for (var kx = 0; kx < kernel; kx++)
                                {
                                    var (y, x) = (oy * stride + ky - pad, ox * stride + kx - pad);
                                    var inside = y >= 0 && y < h && x >= 0 && x < w;
                                    rows[row * k + (ci * kernel + ky) * kernel + kx] =
                                        inside ? values[((image * c + g * perGroup + ci) * h + y) * w + x] : 0;
                                }
        }
        return result;
    }
}
