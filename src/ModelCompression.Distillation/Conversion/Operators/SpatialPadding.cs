using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Conversion.Operators;

/// <summary>The window attributes shared by Conv and the pooling operators, and the padding they imply for an input.</summary>
internal sealed record SpatialWindow(long[] Kernel, long[] Strides, long[] Dilations, long[] PadsBegin, long[] PadsEnd)
{
    public int Rank => Kernel.Length;

    public bool SymmetricPads => PadsBegin.SequenceEqual(PadsEnd);

    /// <summary>Whether TorchSharp can pad natively (symmetric, at most half the effective kernel).</summary>
    public bool NativePadding => SymmetricPads && PadsBegin.Select((p, i) => p <= ((Kernel[i] - 1) * Dilations[i] + 1) / 2).All(b => b);

    /// <summary>Reads the attributes of <paramref name="node"/>; kernel shape from the weight for Conv. auto_pad resolves against the input shape.</summary>
    public static SpatialWindow Of(NodeProto node, long[] kernel, long[] inputShape)
    {
        var rank = kernel.Length;
        var strides = node.GetInts("strides") ?? Enumerable.Repeat(1L, rank).ToArray();
        var dilations = node.GetInts("dilations") ?? Enumerable.Repeat(1L, rank).ToArray();
        var pads = node.GetInts("pads") ?? new long[2 * rank];
        var begin = pads.Take(rank).ToArray();
        var end = pads.Skip(rank).ToArray();
        var autoPad = node.GetString("auto_pad", "NOTSET");
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            for (var i = 0; i < rank; i++)
            {
                var size = inputShape[2 + i];
                var output = (size + strides[i] - 1) / strides[i];
                var total = Math.Max(0, (output - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - size);
                var small = total / 2;
                (begin[i], end[i]) = autoPad == "SAME_UPPER" ? (small, total - small) : (total - small, small);
            }
        }
        else if (autoPad == "VALID")
        {
            begin = new long[rank];
            end = new long[rank];
        }
        return new SpatialWindow(kernel, strides, dilations, begin, end);
    }

    /// <summary>Pads the spatial axes explicitly (TorchSharp lists the last axis first).</summary>
    public Tensor Pad(Tensor input, double value)
    {
        var pad = new long[2 * Rank];
        for (var i = 0; i < Rank; i++)
        {
            pad[2 * (Rank - 1 - i)] = PadsBegin[i];
            pad[2 * (Rank - 1 - i) + 1] = PadsEnd[i];
        }
        return nn.functional.pad(input, pad, PaddingModes.Constant, value);
    }

    /// <summary>Why a node's window is not covered (only 1-D and 2-D windows run), or null.</summary>
    public static string? Unsupported(NodeProto node, int kernelRank) =>
        kernelRank is 1 or 2 ? null : $"{node.OpType} with a {kernelRank}-D window";
}

/// <summary>1-D windows run as 2-D ones of height 1, so that every spatial operator needs only the 2-D kernels.</summary>
internal static class OneDimensional
{
    public static Tensor Lift(Tensor x) => x.unsqueeze(2);

    public static Tensor Lower(Tensor x) => x.squeeze(2);

    public static SpatialWindow Lift(SpatialWindow w) =>
        new([1, .. w.Kernel], [1, .. w.Strides], [1, .. w.Dilations], [0, .. w.PadsBegin], [0, .. w.PadsEnd]);
}
