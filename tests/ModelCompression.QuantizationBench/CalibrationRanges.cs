using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization.Static;

namespace ModelCompression.QuantizationBench;

/// <summary>Per calibrated tensor: the range each method chooses (asymmetric), to see what clipping does where.</summary>
internal static class CalibrationRanges
{
    public static void Print(string folder)
    {
        var name = Path.GetFileName(folder);
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        new NodeNaming().Apply(model);
        new LosslessPipeline().Apply(model);
        if (!Int8StaticQuantization.CanApply(model, out var reason))
        {
            Console.WriteLine($"## {name}: {reason}");
            return;
        }
        var samples = SampleSet.Load(Path.Combine(folder, "calibration.npz"), DataSetting.CalibrationData, model);
        var result = Int8StaticQuantization.Calibrate(model, name, samples, new StaticQuantizationOptions { Activations = new CalibrationSettings(CalibrationMethod.Entropy) });
        Console.WriteLine($"## {name}");
        Console.WriteLine("| tensor | minmax | percentile 99.99 | entropy |");
        Console.WriteLine("|---|---|---|---|");
        string Format(ActivationRange r) => $"[{r.Min:G4}, {r.Max:G4}]";
        foreach (var tensor in result.Tensors)
            Console.WriteLine($"| {tensor} | {string.Join(" | ", Enum.GetValues<CalibrationMethod>().Select(m => Format(result.Range(tensor, new CalibrationSettings(m)))))} |");
    }
}
