using System.Globalization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning.Registry;

/// <summary>int4: MatMul and Gemm weights in 4-bit blocks along K (ONNX Runtime's MatMulNBits), block size and accuracy level from the knobs.</summary>
public sealed class Int4Technique : ICompressionTechnique
{
    public string Name => "int4";

    public Technique Flag => Technique.Int4;

    public IReadOnlyDictionary<string, PassFactory> Passes { get; } = new Dictionary<string, PassFactory>
    {
        [PassCatalog.Int4Weights] = (step, context) => new Int4WeightQuantization(PassCatalog.NodesOf(step), new Int4Settings(
            BlockSize: PassCatalog.IntParameter(step, PassCatalog.BlockParameter, Int4Settings.Default.BlockSize),
            AccuracyLevel: PassCatalog.IntParameter(step, PassCatalog.AccuracyLevelParameter, 0)).Validated(),
            rounding: PassCatalog.RoundingOf(step), statistics: context.LayerStatistics),
    };

    public void Offer(LayerOptions options)
    {
        foreach (var node in Int4WeightQuantization.Eligible(options.Model).Select(w => w.Node).DistinctBy(n => n.Name))
            options.Allow(node.Name, node.OpType, [new LayerSetting(WeightFormat.Int4)]);
    }

    public IEnumerable<(PlanStage, PassStep)> Steps(CompressionSketch sketch, QuantizationKnobs knobs, CompressionSpace space)
    {
        foreach (var rounding in SketchNodes.Roundings)
            if (SketchNodes.With(sketch, WeightFormat.Int4, rounding) is { Count: > 0 } nodes)
                yield return (PlanStage.Int4, PassCatalog.Step(PassCatalog.Int4Weights, nodes, [
                    (PassCatalog.BlockParameter, knobs.Int4BlockSize.ToString(CultureInfo.InvariantCulture)),
                    (PassCatalog.AccuracyLevelParameter, knobs.Int4AccuracyLevel.ToString(CultureInfo.InvariantCulture)),
                    .. SketchNodes.RoundingPair(rounding)]));
    }

    public void Read(PassStep step, SketchReader reader)
    {
        if (step.Pass != PassCatalog.Int4Weights) return;
        foreach (var node in SketchNodes.Named(step)) reader.Store(node, new LayerSetting(WeightFormat.Int4), step);
    }

    public float[]? Store(float[] values, long[] shape, int axis, LayerSetting setting, QuantizationKnobs knobs)
    {
        if (setting.Format != WeightFormat.Int4 || shape.Length != 2) return null;
        // MatMulNBits reads [N, K]: a [K, N] weight (channels on axis 1) transposed.
        var (n, k) = axis == 0 ? ((int)shape[0], (int)shape[1]) : ((int)shape[1], (int)shape[0]);
        var rows = axis == 1 ? MatrixLayout.Transposed(values, k, n) : values;
        var block = Int4WeightQuantization.BlockSizeFor(k, knobs.Int4BlockSize);
        var dequantized = BlockQuantizer.Quantize(rows, n, k, block, Int4Settings.Default.Symmetric).Dequantize();
        return axis == 1 ? MatrixLayout.Transposed(dequantized, n, k) : dequantized;
    }
}
