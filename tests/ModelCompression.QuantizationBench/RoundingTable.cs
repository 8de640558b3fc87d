using System.Diagnostics;
using ModelCompression.Core.Data;
using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.QuantizationBench;

/// <summary>
/// Nearest against data-aware rounding, per layer type: the held-out relative output error
/// √(Σ tr(ΔW H ΔWᵀ) / Σ tr(W H Wᵀ)) (H of held-out inputs, per group) of int8 per channel (GPTQ), int4 blocks of 32
/// (GPTQ; MatMul/Gemm only, as the int4 pass), palettes of 3 and 4 bits per 16 channels (Hessian-weighted k-means) and
/// low-rank at a quarter of the largest useful rank (whitened SVD; MatMul/Gemm/1×1 Conv only), each method fitted on
/// calibration moments. Synthetic layers (Gaussian weights, correlated inputs: <see cref="CorrelatedInputs"/>), then
/// the real weights of the shared models.
/// </summary>
/// <remarks>
/// Hook: the real models' layers are fed synthetic correlated inputs of their own input size until the statistics
/// collector exists; pass its <see cref="ILayerStatistics"/> of calibration.npz and validation.npz as
/// <c>calibration</c> and <c>heldOut</c> to <see cref="PrintModel"/> and the real activations are used instead.
/// Synthetic inputs cost O(rows·K²), so real layers with K above <see cref="MaxSyntheticInputs"/> are skipped then.
/// </remarks>
internal static class RoundingTable
{
    public const int MaxSyntheticInputs = 1200;

    private static readonly string[] Columns = ["int8", "int4", "palette 3-bit", "palette 4-bit", "low-rank"];

    public static void PrintSynthetic()
    {
        Header("synthetic layers (Gaussian weights; correlated inputs, calibration 4·K rows, held-out 1024 rows or patches)");
        Row("Gemm/MatMul 256→128", [Synthetic(MatMul(256, 128), seed: 1)]);
        Row("Conv 3×3, 16→32", [Synthetic(Conv(32, 16, 3, 1), seed: 2)]);
        Row("Conv 3×3 depthwise, 32", [Synthetic(Conv(32, 32, 3, 32), seed: 3)]);
        Row("Conv 3×3 grouped (4), 32→32", [Synthetic(Conv(32, 32, 3, 4), seed: 4)]);
        Row("Conv 1×1, 64→64", [Synthetic(Conv(64, 64, 1, 1), seed: 5)]);
    }

    /// <param name="calibration">The collector's moments on calibration data; null: synthetic inputs (see remarks).</param>
    /// <param name="heldOut">The collector's moments on held-out data (with <paramref name="calibration"/>).</param>
    /// <summary>The model's layers with the moments of their real activations: fitted on calibration.npz, measured on validation.npz.</summary>
    public static void PrintModelWithActivations(string folder)
    {
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        new NodeNaming().Apply(model);
        new LosslessPipeline().Apply(model);
        var nodes = QuantizableWeight.Find(new ModelView(model)).Select(w => w.Node.Name).Distinct().ToList();
        LayerInputStatistics Of(string file, DataSetting setting) =>
            LayerStatisticsCollector.Collect(model, "model.onnx", SampleSet.Load(Path.Combine(folder, file), setting, model), nodes);
        PrintModel(folder, Of("calibration.npz", DataSetting.CalibrationData), Of("validation.npz", DataSetting.ValidationData));
    }

    public static void PrintModel(string folder, ILayerStatistics? calibration = null, ILayerStatistics? heldOut = null)
    {
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        new NodeNaming().Apply(model);
        new LosslessPipeline().Apply(model);
        var source = calibration is null ? "synthetic correlated inputs" : "calibration/validation activations";
        Header($"{Path.GetFileName(folder)}: real weights, {source}");
        var layers = new Dictionary<string, List<Measured>>(StringComparer.Ordinal);
        var skipped = 0;
        var index = 0;
        foreach (var weight in QuantizableWeight.Find(new ModelView(model)).Where(w => w.IsDirect && w.InputIndex == 1))
        {
            if (WeightRows.Of(weight.Node, weight.Initializer.Dims, weight.ChannelAxis) is not { } layout) continue;
            var layer = new Layer(weight.Node, layout, weight.Initializer.Dims.ToArray(), weight.ChannelAxis,
                layout.Rows(TensorProtoConverter.ToNdArray(weight.Initializer).ToFloats()));
            index++;
            Measured measured;
            if (calibration?.For(weight.Node.Name) is { } fitted && heldOut?.For(weight.Node.Name) is { } test && layout.Matches(fitted))
                measured = Measure(layer, fitted, test);
            else if (calibration is null && layout.Inputs <= MaxSyntheticInputs)
                measured = Synthetic(layer, seed: 100 + index);
            else
            {
                skipped++;
                continue;
            }
            var type = TypeOf(weight.Node, layout);
            if (!layers.TryGetValue(type, out var list)) layers[type] = list = [];
            list.Add(measured);
        }
        foreach (var (type, measured) in layers.OrderBy(l => l.Key, StringComparer.Ordinal)) Row(type, measured);
        if (skipped > 0) Console.WriteLine($"\n({skipped} layer(s) skipped: K > {MaxSyntheticInputs} for synthetic inputs, or no moments)");
    }

    /// <summary>One layer as the methods see it: rows [N, K], the tensor's shape and channel axis.</summary>
    private sealed record Layer(NodeProto Node, WeightRows Layout, long[] Shape, int Axis, float[] Rows);

    /// <summary>Errors (nearest, data-aware) per column; NaN where the method does not apply to the layer.</summary>
    private sealed record Measured(string Name, (double Nearest, double Hessian)[] Errors, TimeSpan Time);

    private static Layer MatMul(int k, int n)
    {
        var node = OnnxFactory.Node("MatMul", ["x", "w"], ["y"], "matmul");
        return new Layer(node, new WeightRows(n, k, 1, true), [k, n], 1, CorrelatedInputs.Gaussians(n * k, 17, 1 / Math.Sqrt(k)));
    }

    private static Layer Conv(int outputs, int channels, int kernel, int groups)
    {
        var node = OnnxFactory.Node("Conv", ["x", "w"], ["y"], "conv", attributes: [("group", (long)groups), ("kernel_shape", new long[] { kernel, kernel })]);
        var k = channels / groups * kernel * kernel;
        return new Layer(node, new WeightRows(outputs, k, groups, false), [outputs, channels / groups, kernel, kernel], 0,
            CorrelatedInputs.Gaussians(outputs * k, 19, 1 / Math.Sqrt(k)));
    }

    // Calibration and held-out moments from synthetic inputs: plain rows for a matrix layer, im2col patches of
    // correlated images for a Conv with a kernel (so its patches overlap as real ones do).
    private static Measured Synthetic(Layer layer, int seed)
    {
        var (k, groups) = (layer.Layout.Inputs, layer.Layout.Groups);
        if (layer.Node.OpType == "Conv" && layer.Shape.Length == 4 && layer.Shape[2] > 1)
        {
            var (channels, kernel) = ((int)layer.Shape[1] * groups, (int)layer.Shape[2]);
            var side = Math.Max(kernel + 2, (int)Math.Ceiling(Math.Sqrt(4.0 * k / 20)) + kernel);
            InputMoments Patches(int images, int imageSeed) =>
                CorrelatedInputs.Moments(Im2Col.Patches(CorrelatedInputs.Images(images, channels, side, side, imageSeed, seed), kernel, pad: kernel / 2, groups: groups), k);
            return Measure(layer, Patches(20, seed + 1), Patches(Math.Max(4, 1024 / (side * side)), seed + 2));
        }
        InputMoments Rows(int count, int rowSeed) =>
            CorrelatedInputs.Moments(Enumerable.Range(0, groups).Select(g => CorrelatedInputs.Rows(count, k, rowSeed + 1000 * g, seed + g)).ToList(), k);
        return Measure(layer, Rows(4 * k, seed + 1), Rows(1024, seed + 2));
    }

    private static Measured Measure(Layer layer, InputMoments calibration, InputMoments heldOut)
    {
        var clock = Stopwatch.StartNew();
        var (layout, rows) = (layer.Layout, layer.Rows);
        var (n, k) = (layout.Outputs, layout.Inputs);
        var hessians = Enumerable.Range(0, layout.Groups).Select(g => InputHessian.Of(calibration.Of(g), k)).ToList();
        double Error(float[] approximation) => RelativeError(rows, approximation, layout, heldOut);
        var errors = new (double, double)[Columns.Length];

        var (codes, scales) = PerChannelQuantizer.Quantize(rows, [n, k], 0);
        var (gptqCodes, gptqScales) = GptqPerChannel.Quantize(rows, n, k, hessians);
        errors[0] = (Error(Dequantize(codes, scales, k)), Error(Dequantize(gptqCodes, gptqScales, k)));

        var matrix = layer.Node.OpType is "MatMul" or "Gemm";
        errors[1] = matrix && n * k >= Int4WeightQuantization.DefaultMinElements
            ? (Error(BlockQuantizer.Quantize(rows, n, k, 32, true).Dequantize()), Error(GptqBlockwise.Quantize(rows, n, k, 32, true, hessians[0]).Dequantize()))
            : (double.NaN, double.NaN);

        var tensor = layout.Tensor<float>(rows);
        for (var (column, bits) = (2, 3); bits <= 4; column++, bits++)
        {
            var groups = WeightPalettization.GroupLayout(layer.Shape, layer.Axis, WeightPalettization.DefaultChannelGroupSize, bits);
            var groupOf = groups.GroupsOf(tensor.Length);
            errors[column] = (Error(layout.Rows(PalettizedValues.Fit(tensor, bits, groups.Groups, groupOf).Decode())),
                Error(layout.Rows(HessianWeightedKMeans.Fit(tensor, bits, groups.Groups, groupOf, layout, hessians).Decode())));
        }

        var factorable = layout.Groups == 1 && (matrix || layer.Shape.Skip(2).All(d => d == 1));
        var rank = LowRankFactorization.MaxUsefulRank(k, n) / 4;
        if (factorable && rank >= 1)
        {
            var weight = new WeightRows(k, n, 1, true).Rows(rows); // inputs × outputs
            var cache = new SpectrumCache();
            errors[4] = (Error(Product(WeightSpectrum.Of(weight, k, n).Factors(rank), k, n, rank)),
                Error(Product(WhitenedLowRank.Factors(weight, k, n, rank, hessians[0], cache), k, n, rank)));
        }
        else errors[4] = (double.NaN, double.NaN);
        return new Measured(layer.Node.Name, errors, clock.Elapsed);
    }

    // √(Σ_g tr(ΔW_g H_g ΔW_gᵀ) / Σ_g tr(W_g H_g W_gᵀ)): the relative output error on the rows H was accumulated from.
    private static double RelativeError(float[] rows, float[] approximation, WeightRows layout, InputMoments heldOut)
    {
        var k = layout.Inputs;
        double error = 0, total = 0;
        var (delta, hw, hd) = (new double[k], new double[k], new double[k]);
        for (var row = 0; row < layout.Outputs; row++)
        {
            var h = heldOut.Of(row / layout.RowsPerGroup);
            for (var i = 0; i < k; i++) delta[i] = rows[row * k + i] - approximation[row * k + i];
            for (var i = 0; i < k; i++)
            {
                double w = 0, d = 0;
                for (var j = 0; j < k; j++)
                {
                    w += h[i * k + j] * rows[row * k + j];
                    d += h[i * k + j] * delta[j];
                }
                (hw[i], hd[i]) = (w, d);
            }
            for (var i = 0; i < k; i++)
            {
                error += delta[i] * hd[i];
                total += rows[row * k + i] * hw[i];
            }
        }
        return Math.Sqrt(Math.Max(0, error) / total);
    }

    private static float[] Dequantize(sbyte[] codes, float[] scales, int k) => codes.Select((c, i) => c * scales[i / k]).ToArray();

    // A·B (inputs × outputs) as rows [outputs, inputs].
    private static float[] Product((float[] First, float[] Second) factors, int k, int n, int rank)
    {
        var rows = new float[n * k];
        for (var i = 0; i < k; i++)
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var r = 0; r < rank; r++) sum += (double)factors.First[i * rank + r] * factors.Second[r * n + j];
                rows[j * k + i] = (float)sum;
            }
        return rows;
    }

    private static string TypeOf(NodeProto node, WeightRows layout)
    {
        if (node.OpType != "Conv") return "Gemm/MatMul";
        var kernel = node.GetInts("kernel_shape") ?? [];
        var size = kernel.Length > 0 ? string.Join("×", kernel) : "?";
        if (layout.Groups > 1) return layout.Groups == layout.Outputs ? $"Conv {size} depthwise" : $"Conv {size} grouped";
        return $"Conv {size}";
    }

    private static void Header(string title)
    {
        Console.WriteLine();
        Console.WriteLine($"## {title}");
        Console.WriteLine();
        Console.WriteLine("Held-out relative output error, nearest → data-aware (%); mean over the layers of each type.");
        Console.WriteLine();
        Console.WriteLine($"| layers | {string.Join(" | ", Columns)} | time |");
        Console.WriteLine($"|---|{string.Concat(Columns.Select(_ => "---:|"))}---:|");
    }

    private static void Row(string type, IReadOnlyList<Measured> layers)
    {
        var cells = Enumerable.Range(0, Columns.Length).Select(c =>
        {
            var applicable = layers.Where(l => !double.IsNaN(l.Errors[c].Nearest)).ToList();
            if (applicable.Count == 0) return "—";
            var (nearest, hessian) = (applicable.Average(l => l.Errors[c].Nearest), applicable.Average(l => l.Errors[c].Hessian));
            return $"{100 * nearest:0.00} → {100 * hessian:0.00}";
        });
        var name = layers.Count > 1 ? $"{type} ×{layers.Count}" : type;
        Console.WriteLine($"| {name} | {string.Join(" | ", cells)} | {layers.Sum(l => l.Time.TotalSeconds):0.0} s |");
        Console.Out.Flush();
    }
}
