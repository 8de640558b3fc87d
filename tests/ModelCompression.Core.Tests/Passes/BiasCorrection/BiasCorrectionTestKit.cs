using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.BiasCorrection;

/// <summary>Layers whose int8 rounding errs the same way everywhere, for the bias correction tests.</summary>
internal static class BiasCorrectionTestKit
{
    /// <summary>The int8 grid step of every weight channel of <see cref="BiasedWeights"/>.</summary>
    public const float Step = 0.01f;

    /// <summary>
    /// Per output channel one weight at 127·step (which fixes the channel's scale at exactly step) and the others at
    /// (k + 0.4)·step, which round down to k·step. Each weight but one loses 0.4·step, so for inputs ≥ 0 the layer's
    /// error has a mean of about −0.4·step·Σ E[x] per channel.
    /// </summary>
    public static float[] BiasedWeights(int outputs, int inputs, bool outputsFirst, int seed)
    {
        var random = new Random(seed);
        var values = new float[outputs * inputs];
        for (var o = 0; o < outputs; o++)
            for (var i = 0; i < inputs; i++)
            {
                var onGrid = i == o % inputs ? 127 : random.Next(-100, 100) + 0.4f;
                values[outputsFirst ? o * inputs + i : i * outputs + o] = onGrid * Step;
            }
        return values;
    }

    /// <summary>Samples of <paramref name="model"/>'s input x, uniform in [0, 1): inputs ≥ 0, so the errors above do not cancel.</summary>
    public static SampleSet Samples(ModelProto model, int seed, params long[] shape) =>
        SampleSet.FromArrays("samples.npz", new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform(shape, seed, 0f, 1f) }, model);

    /// <summary>x [N, 32] → Gemm(W [16, 32] transposed, C) → Relu → y.</summary>
    public static ModelProto GemmLayer() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 32)
        .Initializer("w", NdArray.Create<float>([16, 32], BiasedWeights(16, 32, outputsFirst: true, seed: 1)))
        .Initializer("c", SyntheticInputs.Uniform([16], 2))
        .Node("Gemm", ["x", "w", "c"], ["h"], "fc", ("transB", 1L))
        .Node("Relu", ["h"], ["y"], "relu")
        .Output("y", DataType.Float, "N", 16)
        .Build();
}
