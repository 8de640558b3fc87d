using ModelCompression.Core.Passes;
using ModelCompression.Core.Graph;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// Weight clustering: stores each chosen float weight (the weight slots of <see cref="QuantizableWeight"/>: Conv,
/// ConvTranspose, Gemm, MatMul, LSTM/GRU/RNN, Gather tables, If/Loop bodies included) as n-bit codes into palettes of
/// 2ⁿ k-means centroids (<see cref="KMeans1D"/>), one palette per tensor or per group of output channels. In the file:
/// the codes as <see cref="BitSlices"/> (uint8; plain bytes at 8 bits) and the palettes (float32 or float16), expanded by
/// standard ONNX ops (Cast, Div, Mul, Sub, Add, Reshape, Slice, Gather) that read only constants, so ONNX Runtime folds them
/// into a float weight when the session loads: the file shrinks, the speed and the memory of a loaded session do not
/// change (the weights are floats again once loaded).
/// </summary>
/// <remarks>
/// Bytes per weight tensor of N elements and G palettes: N·n/8 (codes, each slice rounded up to whole bytes) + G·2ⁿ·4
/// (palettes; ·2 with float16) + the expansion, against 4·N as float. The expansion (<see cref="ConstantProgram"/>
/// .DenseFromPalette) stores no per-channel data when the groups are equal: the codes unpack as [rows, G, M/k, k], so
/// one [G, 1, 1] int32 offset broadcasts g·2ⁿ over them; the divisors, bases and shapes are shared by every palette of a
/// graph, and 2-D weights take their shape from a Flatten (no shape constant). Measured (<c>CompactExpansionTests</c>,
/// MatMul weights, first palette of the graph): one palette at 4 bits costs 228 B beyond codes and palette (Cast, Div,
/// Mod, Gather, Flatten and three small constants; 12×128: 1,060 B in all, was 1,250 B per tensor and 2,273 B with
/// 8 palettes, 1,505 B of it beyond the codes); 8 palettes add an Add and the offsets (311 B beyond codes and palettes,
/// was 996 B with an int32 offset per channel); 3 bits (two slices) 649 B (was 1,411 B). Channel-group palettes are kept
/// within 1/<see cref="MinCodeBytesPerTableByte"/> of the codes' bytes (<see cref="GroupLayout"/>). digits-mlp with its
/// Gemms low-rank factored at rank 12 and every factor at 4 bits, 16 channels per palette: 8,585 → 5,597 B (12.4×),
/// accuracy 97.04 → 97.59 % (fp32 97.59 %; the small factors now get one palette each). A tensor whose encoding would not
/// be smaller is left as it is (see <see cref="Outcomes"/>). Measured before the expansion was made compact, with ONNX
/// Runtime 1.31 (<c>dotnet run -c Release --project tests/ModelCompression.PaletteBench</c>): every layer of fashion-cnn
/// at 8/6/4/3/2 bits, one palette per tensor, is 3.96/5.25/7.88/10.37/15.53× smaller at 91.03/90.94/91.11/89.47/84.87 %
/// (fp32 91.04 %); with a palette per output channel 3 bits keep 90.97 % at 9.91×. Batch-1 latency against fp32
/// 0.96–1.05 on all five shared models, every width (noise: the loaded model is the float model); session creation grows
/// from 3 ms to 8–45 ms on fashion-cnn (folding).
/// </remarks>
public sealed class WeightPalettization : IGraphPass
{
    public const string PassName = "palettize";

    /// <summary>Below this many elements a weight is left as is: its palette and expansion (about 0.3 KB) would leave little to save.</summary>
    public const int DefaultMinElements = 256;

    /// <summary>Output channels per palette with <see cref="PaletteGranularity.PerChannelGroup"/>.</summary>
    public const int DefaultChannelGroupSize = 16;

    /// <summary>
    /// Channel-group palettes may take at most 1/this of the codes' bytes: beyond it, groups grow (see
    /// <see cref="GroupLayout"/>).
    /// </summary>
    public const int MinCodeBytesPerTableByte = 8;

    /// <summary>Integer Div with broadcasting (the bit unpacking) needs opset 7.</summary>
    public const int MinimumOpset = 7;

    private readonly IReadOnlyDictionary<string, int> _bits;
    private readonly PaletteGranularity _granularity;
    private readonly int _channelGroupSize;
    private readonly PaletteTable _table;
    private readonly int _minElements;
    private readonly Rounding _rounding;
    private readonly bool _refitEntries;
    private readonly ILayerStatistics? _statistics;

    /// <param name="rounding">With <see cref="Rounding.Hessian"/>, the palettes of Gemm, MatMul and Conv weights whose
    /// layers have input moments in <paramref name="statistics"/> weight each value by its input's second moment
    /// (<see cref="HessianWeightedKMeans"/>); the others are plain k-means, as without.</param>
    /// <param name="refitEntries">With <see cref="Rounding.Hessian"/>: refit those palettes' entries to their codes.</param>
    /// <param name="bits">Code width per node name, 1–8 bits (2ⁿ centroids); nodes not named are left alone. A tensor
    /// several chosen nodes read gets the widest of their widths.</param>
    /// <param name="granularity">One palette per tensor, or per group of <paramref name="channelGroupSize"/> output channels.</param>
    public WeightPalettization(IReadOnlyDictionary<string, int> bits, PaletteGranularity granularity = PaletteGranularity.PerTensor,
        int channelGroupSize = DefaultChannelGroupSize, PaletteTable table = PaletteTable.Float32, int minElements = DefaultMinElements,
        Rounding rounding = Rounding.Nearest, ILayerStatistics? statistics = null, bool refitEntries = false)
    {
        foreach (var (node, width) in bits)
            if (width is < PalettizedValues.MinBits or > PalettizedValues.MaxBits)
                throw new ArgumentOutOfRangeException(nameof(bits), width, $"Node '{node}': palettes use {PalettizedValues.MinBits} to {PalettizedValues.MaxBits} bits.");
        if (channelGroupSize < 1) throw new ArgumentOutOfRangeException(nameof(channelGroupSize), channelGroupSize, "A channel group holds at least one channel.");
        _bits = bits;
        _granularity = granularity;
        _channelGroupSize = channelGroupSize;
        _table = table;
        _minElements = minElements;
        _rounding = rounding;
        _refitEntries = refitEntries;
        _statistics = statistics;
    }

    public string Name => PassName;

    /// <summary>The pass a plan step's parameters describe (<see cref="PassParameters"/>: bits, granularity, group, table, rounding).</summary>
    /// <param name="statistics">The layers' input moments, for <c>rounding=hessian</c>.</param>
    /// <exception cref="FormatException">A parameter cannot be read.</exception>
    public static WeightPalettization FromParameters(IReadOnlyDictionary<string, string> parameters, ILayerStatistics? statistics = null) => new(
        ParameterMap.ParseInts(parameters.GetValueOrDefault(PassParameters.Bits) ?? ""),
        PassParameters.ParseGranularity(parameters.GetValueOrDefault(PassParameters.Granularity)),
        PassParameters.ParseInt(parameters.GetValueOrDefault(PassParameters.GroupSize), DefaultChannelGroupSize),
        parameters.GetValueOrDefault(PassParameters.Table) switch
        {
            null or "float32" => PaletteTable.Float32,
            "float16" => PaletteTable.Float16,
            var other => throw new FormatException($"Palette table '{other}' is neither 'float32' nor 'float16'."),
        },
        rounding: RoundingParameter.Parse(parameters.GetValueOrDefault(RoundingParameter.Name)),
        statistics: statistics,
        refitEntries: parameters.GetValueOrDefault(PassParameters.Entries) switch
        {
            null => false,
            PassParameters.RefittedEntries => true,
            var other => throw new FormatException($"Palette entries '{other}' are not '{PassParameters.RefittedEntries}'."),
        });

    /// <summary>This pass's plan-step parameters (the inverse of <see cref="FromParameters"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters()
    {
        var parameters = new List<KeyValuePair<string, string>>
        {
            new(PassParameters.Bits, ParameterMap.Format(_bits)),
            new(PassParameters.Granularity, PassParameters.Format(_granularity)),
            new(PassParameters.Table, _table == PaletteTable.Float32 ? "float32" : "float16"),
        };
        if (_granularity == PaletteGranularity.PerChannelGroup) parameters.Add(new(PassParameters.GroupSize, _channelGroupSize.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        parameters.AddRange(RoundingParameter.Of(_rounding));
        if (_refitEntries) parameters.Add(new(PassParameters.Entries, PassParameters.RefittedEntries));
        return parameters;
    }

    /// <summary>What the last <see cref="Apply"/> did with each chosen weight tensor.</summary>
    public IReadOnlyList<PalettizedWeight> Outcomes { get; private set; } = [];

    /// <summary>The nodes of <paramref name="model"/> (subgraphs included) whose weights this pass can palettize, sorted.</summary>
    public static IReadOnlyList<string> EligibleNodes(ModelProto model, int minElements = DefaultMinElements) =>
        Eligible(new ModelView(model), minElements).Select(w => w.Node.Name).Distinct().Order(StringComparer.Ordinal).ToList();

    internal static IReadOnlyList<QuantizableWeight> Eligible(ModelView model, int minElements) =>
        model.OpsetVersion() < MinimumOpset ? [] : QuantizableWeight.Replaceable(model, minElements);

    public int Apply(ModelProto model)
    {
        var view = new ModelView(model);
        var chosen = Eligible(view, _minElements).Where(w => _bits.ContainsKey(w.Node.Name));
        var outcomes = new List<PalettizedWeight>();
        var pools = new Dictionary<GraphProto, ConstantPool>(ReferenceEqualityComparer.Instance);
        var rewrites = 0;
        // One palettized copy per weight tensor (and channel axis, when palettes follow channels).
        var weights = WeightReplacement.Group(chosen, byChannelAxis: _granularity == PaletteGranularity.PerChannelGroup).ToList();
        // Every H before the first rewrite: a second low-rank factor's is derived from its partner's float weight.
        var moments = _rounding == Rounding.Hessian ? new LayerMoments(_statistics, view) : null;
        var hessians = weights.Select(w => moments?.For(w.Reads)).ToList();
        foreach (var (weight, hessian) in weights.Zip(hessians))
        {
            var nodes = weight.Readers.Select(n => n.Name).Order(StringComparer.Ordinal).ToList();
            var bits = nodes.Max(n => _bits[n]);
            var source = TensorProtoConverter.ToNdArray(weight.Initializer);
            var values = source.ToFloats();
            var layout = _granularity == PaletteGranularity.PerChannelGroup
                ? GroupLayout(source.Shape.ToArray(), weight.ChannelAxis, _channelGroupSize, bits, _table)
                : ChannelLayout.Whole(source.Shape.ToArray());
            var original = ConstantProgram.BytesOf(weight.Initializer, view.InitializersMustBeInputs);
            var payload = PalettizedValues.PayloadBytes(values.Length, bits, layout.Groups, _table);
            if (!weight.ReplacesInitializer || payload >= original)
            {
                // Not worth clustering: the codes and palettes alone would not be smaller (or the tensor stays for other readers).
                outcomes.Add(new PalettizedWeight(weight.Initializer.Name, nodes, values.Length, bits, layout.Groups, original, payload, double.NaN, false));
                continue;
            }
            var palettized = hessian is null
                ? PalettizedValues.Fit(values, bits, layout.Groups, layout.GroupsOf(values.Length), _table)
                : HessianWeightedKMeans.Fit(values, bits, layout.Groups, layout.GroupsOf(values.Length), hessian.Layout, hessian.Hessians, _table, _refitEntries);

            if (!pools.TryGetValue(weight.Owner.Proto, out var pool)) pools.Add(weight.Owner.Proto, pool = new ConstantPool());
            var program = new ConstantProgram(view, "p", pool);
            var output = program.DenseFromPalette(palettized, source.Shape.ToArray(), layout, _table, program.Name);
            var applied = program.StoredBytes < original;
            outcomes.Add(new PalettizedWeight(weight.Initializer.Name, nodes, values.Length, bits, layout.Groups, original,
                program.StoredBytes, Rms(values, palettized.Decode()), applied));
            if (!applied) continue;
            program.AddTo(weight);
            weight.Redirect(output);
            rewrites += weight.SlotCount;
        }
        Outcomes = outcomes;
        return rewrites;
    }

    /// <summary>
    /// The channel groups of a weight: <paramref name="groupSize"/> channels per palette, doubled while the palettes would
    /// take more than 1/<see cref="MinCodeBytesPerTableByte"/> of the codes' bytes, down to one palette for the tensor.
    /// A small tensor's codes cannot pay for many palettes (a 128×12 weight at 4 bits: 768 B of codes against 512 B for
    /// eight palettes); a large one keeps the requested groups (fashion-cnn's 64×32×3×3 conv at 3 bits: 6.9 KB of codes,
    /// 128 B for its four palettes).
    /// </summary>
    public static ChannelLayout GroupLayout(long[] shape, int axis, int groupSize, int bits, PaletteTable table = PaletteTable.Float32)
    {
        var codeBytes = BitSlices.Bytes(shape.Aggregate(1L, (a, d) => a * d), bits);
        var layout = new ChannelLayout(shape, axis, groupSize);
        while (layout.Groups > 1 && PalettizedValues.TableBytes(layout.Groups, bits, table) * MinCodeBytesPerTableByte > codeBytes)
            layout = new ChannelLayout(shape, axis, layout.GroupSize * 2);
        return layout;
    }

    internal static double Rms(float[] expected, float[] actual)
    {
        var sum = 0.0;
        for (var i = 0; i < expected.Length; i++) sum += (double)(expected[i] - actual[i]) * (expected[i] - actual[i]);
        return expected.Length == 0 ? 0 : Math.Sqrt(sum / expected.Length);
    }
}

/// <summary>One weight tensor a palettization pass chose, and what became of it.</summary>
/// <param name="Nodes">The chosen nodes reading it (sorted).</param>
/// <param name="OriginalBytes">Its float initializer's bytes in the file.</param>
/// <param name="EncodedBytes">The palettized form's bytes (codes, palettes, offsets, nodes), applied or not; for a tensor
/// refused before clustering, its codes and palettes alone (<see cref="PalettizedValues.PayloadBytes"/>).</param>
/// <param name="RmsError">Root mean square of (palettized − original) over the elements; NaN when refused before clustering.</param>
/// <param name="Applied">False when the encoding would not be smaller (a small tensor), or other nodes read the tensor too.</param>
public sealed record PalettizedWeight(string Tensor, IReadOnlyList<string> Nodes, long Elements, int Bits, int Groups,
    long OriginalBytes, long EncodedBytes, double RmsError, bool Applied);
