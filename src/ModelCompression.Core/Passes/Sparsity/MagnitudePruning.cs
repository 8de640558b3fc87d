using System.Globalization;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Sparsity;

/// <summary>
/// Unstructured magnitude pruning stored so that the file shrinks: zeroes the smallest-magnitude weights of the chosen
/// weight slots (<see cref="QuantizableWeight"/>, If/Loop bodies included), per layer or with one global threshold
/// (<see cref="SparsityTarget"/>), and stores each pruned tensor in the masked form of <see cref="SparseEncoding"/>:
/// a 1-bit mask plus the non-zero values as float32, float16 or n-bit palette codes (k-means of the non-zeros, per
/// tensor or per channel group). Standard ops rebuild the dense weight (<see cref="MaskedWeight"/>: CumSum of the mask
/// and Gather from opset 11, TopK and Scatter before), and read only constants, so ONNX Runtime folds them when the
/// session loads. The loaded model is the dense pruned model: as fast as the original, no faster (dense kernels), and
/// as large in memory.
/// </summary>
/// <remarks>
/// A tensor whose masked form would not be smaller than the same values stored densely (float32: the original tensor;
/// float16 or n-bit codes: that dense form) is left unchanged and reported in <see cref="Outcomes"/> with the reason:
/// pruning it would cost accuracy and save no byte the dense form of its values would not save.
/// Measured on fashion-cnn's 3136×256 Gemm (<c>dotnet run -c Release --project tests/ModelCompression.PaletteBench --
/// prune</c>; fp32 91.04 %, whole model 3,484,613 bytes): 90 % sparse with 4-bit codes per 16 channels 1.43 bits per
/// weight, model 8.35× smaller at 91.05 %; 75 % sparse with 2-bit codes 8.17× at 91.01 %; the same Gemm palettized
/// densely at 2 bits (2 bits per weight) 7.32× at 90.72 %. With every other layer palettized at 6 bits: 16.9× at 90.82 %.
/// Latency against fp32 0.98–1.02 throughout.
/// </remarks>
public sealed class MagnitudePruning : IGraphPass
{
    public const string PassName = "prune-weights";

    /// <summary>ConstantOfShape and Scatter need opset 9.</summary>
    public const int MinimumOpset = 9;

    private readonly SparsityTarget _target;
    private readonly IReadOnlyDictionary<string, int> _valueBits;
    private readonly PaletteGranularity _granularity;
    private readonly int _channelGroupSize;
    private readonly int _minElements;

    /// <param name="valueBits">Per node, how the non-zeros are stored: 32 (float32, the default for nodes not named), 16
    /// (float16) or 1–8 (palette codes). A tensor several chosen nodes read takes the widest.</param>
    /// <param name="granularity">With palette codes: one palette per tensor, or per group of <paramref name="channelGroupSize"/> output channels.</param>
    public MagnitudePruning(SparsityTarget target, IReadOnlyDictionary<string, int>? valueBits = null,
        PaletteGranularity granularity = PaletteGranularity.PerTensor, int channelGroupSize = WeightPalettization.DefaultChannelGroupSize,
        int minElements = WeightPalettization.DefaultMinElements)
    {
        valueBits ??= new Dictionary<string, int>();
        foreach (var (node, bits) in valueBits)
            if (!SparseEncoding.IsValueWidth(bits))
                throw new ArgumentOutOfRangeException(nameof(valueBits), bits, $"Node '{node}': non-zeros are stored in 32, 16 or 1 to 8 bits.");
        if (channelGroupSize < 1) throw new ArgumentOutOfRangeException(nameof(channelGroupSize), channelGroupSize, "A channel group holds at least one channel.");
        _target = target;
        _valueBits = valueBits;
        _granularity = granularity;
        _channelGroupSize = channelGroupSize;
        _minElements = minElements;
    }

    public string Name => PassName;

    /// <summary>
    /// The pass a plan step's parameters describe (<see cref="PassParameters"/>): sparsity (per layer) or global-sparsity
    /// with nodes; bits, granularity, group.
    /// </summary>
    /// <exception cref="FormatException">A parameter cannot be read, or neither (or both) of sparsity and global-sparsity is given.</exception>
    public static MagnitudePruning FromParameters(IReadOnlyDictionary<string, string> parameters)
    {
        var perLayer = parameters.GetValueOrDefault(PassParameters.Sparsity);
        var global = parameters.GetValueOrDefault(PassParameters.GlobalSparsity);
        if ((perLayer is null) == (global is null))
            throw new FormatException($"prune-weights needs either '{PassParameters.Sparsity}' or '{PassParameters.GlobalSparsity}' (with '{PassParameters.Nodes}').");
        var target = perLayer is not null
            ? SparsityTarget.Layers(ParameterMap.ParseFractions(perLayer))
            : SparsityTarget.Global(double.Parse(global!, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture),
                (parameters.GetValueOrDefault(PassParameters.Nodes) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries));
        return new MagnitudePruning(target,
            ParameterMap.ParseInts(parameters.GetValueOrDefault(PassParameters.Bits) ?? ""),
            PassParameters.ParseGranularity(parameters.GetValueOrDefault(PassParameters.Granularity)),
            PassParameters.ParseInt(parameters.GetValueOrDefault(PassParameters.GroupSize), WeightPalettization.DefaultChannelGroupSize));
    }

    /// <summary>This pass's plan-step parameters (the inverse of <see cref="FromParameters"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters()
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var parameters = new List<KeyValuePair<string, string>>();
        if (_target.GlobalSparsity is { } global)
        {
            parameters.Add(new(PassParameters.GlobalSparsity, global.ToString(invariant)));
            parameters.Add(new(PassParameters.Nodes, string.Join(";", _target.Nodes.Order(StringComparer.Ordinal))));
        }
        else parameters.Add(new(PassParameters.Sparsity, ParameterMap.Format(_target.PerLayer)));
        if (_valueBits.Count > 0) parameters.Add(new(PassParameters.Bits, ParameterMap.Format(_valueBits)));
        parameters.Add(new(PassParameters.Granularity, PassParameters.Format(_granularity)));
        if (_granularity == PaletteGranularity.PerChannelGroup) parameters.Add(new(PassParameters.GroupSize, _channelGroupSize.ToString(invariant)));
        return parameters;
    }

    /// <summary>What the last <see cref="Apply"/> did with each chosen weight tensor.</summary>
    public IReadOnlyList<PrunedWeight> Outcomes { get; private set; } = [];

    /// <summary>The nodes of <paramref name="model"/> (subgraphs included) whose weights this pass can prune, sorted.</summary>
    public static IReadOnlyList<string> EligibleNodes(ModelProto model, int minElements = WeightPalettization.DefaultMinElements) =>
        Eligible(new ModelView(model), minElements).Select(w => w.Node.Name).Distinct().Order(StringComparer.Ordinal).ToList();

    private static IReadOnlyList<QuantizableWeight> Eligible(ModelView model, int minElements) =>
        model.OpsetVersion() < MinimumOpset ? [] : WeightPalettization.Eligible(model, minElements);

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var chosen = Eligible(view, _minElements).Where(w => _target.PerLayer.ContainsKey(w.Node.Name));
        var weights = WeightReplacement.Group(chosen, byChannelAxis: _granularity == PaletteGranularity.PerChannelGroup).ToList();
        var pruned = Prune(weights);
        var outcomes = new List<PrunedWeight>();
        var rewrites = 0;
        for (var t = 0; t < weights.Count; t++)
        {
            var weight = weights[t];
            var nodes = weight.Readers.Select(n => n.Name).Order(StringComparer.Ordinal).ToList();
            var bits = nodes.Max(n => _valueBits.GetValueOrDefault(n, SparseEncoding.Float32Bits));
            var original = TensorProtoConverter.ToNdArray(weight.Initializer).ToFloats();
            var shape = weight.Initializer.Dims.ToArray();
            var layout = _granularity == PaletteGranularity.PerChannelGroup && bits <= PalettizedValues.MaxBits
                ? new ChannelLayout(shape, weight.ChannelAxis, _channelGroupSize)
                : ChannelLayout.Whole(shape);

            var originalBytes = ConstantProgram.BytesOf(weight.Initializer, view.InitializersMustBeInputs);
            var denseBytes = bits == SparseEncoding.Float32Bits ? originalBytes : DenseBytes(view, original.Length, shape, layout, bits);
            var sparsity = MagnitudeThreshold.SparsityOf(pruned[t]);
            var nonZeros = original.Length - (long)Math.Round(sparsity * original.Length);
            var payload = (original.Length + 7) / 8 + (bits <= PalettizedValues.MaxBits
                ? PalettizedValues.PayloadBytes(nonZeros, bits, layout.Groups)
                : nonZeros * bits / 8);
            if (!weight.ReplacesInitializer || payload >= denseBytes)
            {
                // Not worth building: the mask and the non-zeros alone would not be smaller (or the tensor stays for other readers).
                outcomes.Add(new PrunedWeight(weight.Initializer.Name, nodes, original.Length, sparsity, bits, originalBytes, denseBytes, payload, double.NaN,
                    !weight.ReplacesInitializer ? "other nodes read the tensor too" : NotSmaller(payload, denseBytes, bits)));
                continue;
            }
            var masked = new ConstantProgram(view, "sparse");
            var (output, stored) = MaskedWeight.Build(masked, pruned[t], shape, layout, bits, view.Names.Next($"{weight.Initializer.Name}.pruned"));
            var refusal = masked.StoredBytes >= denseBytes ? NotSmaller(masked.StoredBytes, denseBytes, bits) : null;
            outcomes.Add(new PrunedWeight(weight.Initializer.Name, nodes, original.Length, sparsity, bits,
                originalBytes, denseBytes, masked.StoredBytes, WeightPalettization.Rms(original, stored), refusal));
            if (refusal is not null) continue;
            masked.AddTo(weight);
            weight.Redirect(output);
            rewrites += weight.SlotCount;
        }
        Outcomes = outcomes;
        return rewrites;
    }

    private static string NotSmaller(long maskedBytes, long denseBytes, int bits) =>
        string.Create(CultureInfo.InvariantCulture,
            $"the mask form ({maskedBytes:N0} B) is not smaller than its values stored densely ({denseBytes:N0} B): at {bits}-bit values it pays only above {SparseEncoding.BreakEvenSparsity(bits):P1} sparsity");

    /// <summary>The pruned values of each tensor: per layer, the smallest of its readers' sparsities; globally, one threshold.</summary>
    private float[][] Prune(IReadOnlyList<WeightReplacement> weights)
    {
        var values = weights.Select(w => TensorProtoConverter.ToNdArray(w.Initializer).ToFloats()).ToList();
        if (_target.GlobalSparsity is { } global) return MagnitudeThreshold.Prune(values, global);
        return weights.Select((w, t) => MagnitudeThreshold.Prune([values[t]], w.Readers.Min(n => _target.PerLayer[n.Name]))[0]).ToArray();
    }

    /// <summary>
    /// The bytes of the pruned values stored densely in <paramref name="bits"/> (float16, or palette codes as
    /// <see cref="WeightPalettization"/> stores them; the sizes do not depend on the values, so no clustering is needed).
    /// </summary>
    private static long DenseBytes(ModelView view, int count, long[] shape, ChannelLayout layout, int bits)
    {
        var dense = new ConstantProgram(view, "pal");
        if (bits == SparseEncoding.Float16Bits)
            dense.Cast(dense.Constant("h", shape, (ReadOnlySpan<Half>)new Half[count]), DataType.Float, "f");
        else
            dense.DenseFromPalette(PalettizedValues.Placeholder(count, bits, layout.Groups), shape, layout, PaletteTable.Float32, "w");
        return dense.StoredBytes;
    }
}

/// <summary>One weight tensor a pruning pass chose, and what became of it.</summary>
/// <param name="Nodes">The chosen nodes reading it (sorted).</param>
/// <param name="Sparsity">The fraction of its elements that are zero after pruning.</param>
/// <param name="ValueBits">How its non-zeros are stored: 32, 16, or palette codes of 1–8 bits.</param>
/// <param name="OriginalBytes">Its float initializer's bytes in the file.</param>
/// <param name="DenseBytes">The pruned values stored densely in <paramref name="ValueBits"/> (for 32 bits, <paramref name="OriginalBytes"/>).</param>
/// <param name="MaskedBytes">The masked form's bytes: mask, non-zeros (and palettes), nodes; for a tensor refused before
/// the form was built, the mask and non-zeros alone.</param>
/// <param name="RmsError">Root mean square of (stored − original) over all elements, pruned ones included; NaN when refused before the form was built.</param>
/// <param name="Refusal">Why the tensor was left unchanged; null when the masked form replaced it.</param>
public sealed record PrunedWeight(string Tensor, IReadOnlyList<string> Nodes, long Elements, double Sparsity, int ValueBits,
    long OriginalBytes, long DenseBytes, long MaskedBytes, double RmsError, string? Refusal)
{
    public bool Applied => Refusal is null;
}
