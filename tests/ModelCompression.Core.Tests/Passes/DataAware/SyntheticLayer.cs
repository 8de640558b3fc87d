using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.DataAware;

/// <summary>
/// A layer of <see cref="Outputs"/> × <see cref="Inputs"/> Gaussian weights (rows) fed correlated inputs
/// (<see cref="CorrelatedInputs"/>): H is fitted on calibration rows, errors are measured on held-out rows.
/// </summary>
internal sealed class SyntheticLayer
{
    public SyntheticLayer(int outputs, int inputs, int seed = 7, int calibrationRows = 0, int heldOutRows = 512)
    {
        Outputs = outputs;
        Inputs = inputs;
        Weights = CorrelatedInputs.Gaussians(outputs * inputs, seed, 1 / Math.Sqrt(inputs));
        Calibration = CorrelatedInputs.Rows(calibrationRows > 0 ? calibrationRows : 4 * inputs, inputs, seed + 1, mixingSeed: seed);
        HeldOut = CorrelatedInputs.Rows(heldOutRows, inputs, seed + 2, mixingSeed: seed);
        Moments = CorrelatedInputs.Moments(Calibration, inputs);
    }

    public int Outputs { get; }

    public int Inputs { get; }

    /// <summary>Rows [Outputs, Inputs].</summary>
    public float[] Weights { get; }

    public float[] Calibration { get; }

    public float[] HeldOut { get; }

    public InputMoments Moments { get; }

    public InputHessian Hessian => InputHessian.Of(Moments.Of(0), Inputs);

    /// <summary>The held-out relative output error of <paramref name="approximation"/> (rows like <see cref="Weights"/>).</summary>
    public double Error(ReadOnlySpan<float> approximation) => CorrelatedInputs.RelativeOutputError(Weights, approximation, HeldOut, Inputs);

    public static float[] Dequantize(sbyte[] codes, float[] scales, int k) =>
        codes.Select((c, i) => c * scales[i / k]).ToArray();
}
