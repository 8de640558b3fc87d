using System.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.PaletteBench;

/// <summary>
/// Plain against magnitude-weighted k-means: every eligible weight replaced in place by its palettized values (the
/// accuracy of a palettized model does not depend on how the codes are stored), per tensor, at 2–4 bits.
/// </summary>
internal static class Weighting
{
    public static void Run(BenchModel bench)
    {
        bench.Header("k-means weighting (weights replaced by their palettized values, per tensor)");
        var tensors = WeightPalettization.EligibleNodes(bench.Lossless).Count;
        foreach (var bits in new[] { 4, 3, 2 })
            foreach (var weighted in new[] { false, true })
            {
                var clock = Stopwatch.StartNew();
                var model = bench.Lossless.Clone();
                var (squared, count) = (0.0, 0L);
                foreach (var tensor in model.Graph.Initializer.Where(t => t.DataType == (int)DataType.Float && TensorProtoConverter.ElementCount(t) >= WeightPalettization.DefaultMinElements && t.Dims.Count > 1))
                {
                    var values = TensorProtoConverter.ToNdArray(tensor).ToFloats();
                    var decoded = PalettizedValues.Fit(values, bits, magnitudeWeighted: weighted).Decode();
                    for (var i = 0; i < values.Length; i++) squared += (double)(values[i] - decoded[i]) * (values[i] - decoded[i]);
                    count += values.Length;
                    tensor.RawData = Google.Protobuf.ByteString.CopyFrom(NdArray.Create<float>(tensor.Dims.ToArray(), decoded).Data);
                }
                bench.Row($"{bits}-bit, {(weighted ? "magnitude-weighted" : "unweighted")}", model,
                    $"weight RMS error {Math.Sqrt(squared / count):0.00000} over {tensors} layers", clock.Elapsed);
            }
    }
}
