using System.Globalization;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.BiasCorrection;

/// <summary>How <see cref="EmpiricalBiasCorrection"/> measures and when it adds a bias.</summary>
public sealed record BiasCorrectionOptions
{
    public static BiasCorrectionOptions Default { get; } = new();

    /// <summary>At most this many calibration samples, spread over the file: a per-channel mean settles long before.</summary>
    public int MaxSamples { get; init; } = 512;

    /// <summary>
    /// A layer without a bias gets one (a tensor, for a bare MatMul an Add node too) only when the mean error it removes
    /// is at least this share of the reference output's variance: 1e-4 is a mean error of 1% of the output's standard
    /// deviation, the order of int8 quantization noise. An existing bias is always corrected: that costs nothing.
    /// </summary>
    public double MinNewBiasGain { get; init; } = 1e-4;

    public EvaluationOptions Run { get; init; } = EvaluationOptions.Default;
}

/// <summary>One corrected layer: channels, the mean |shift|, and the squared mean error removed as a share of the output's variance.</summary>
public sealed record LayerCorrection(string Node, int Channels, double MeanAbsoluteShift, double ErrorShare, bool NewBias);

/// <summary>The model outputs' mean squared error against the reference on the calibration samples, before and after; whether the corrections were kept.</summary>
public sealed record CorrectionCheck(double ErrorBefore, double ErrorAfter, bool Kept);

/// <summary>
/// Empirical bias correction: after lossy steps (quantization, low-rank, pruning) a layer's output is off by an error
/// whose mean over samples and positions is often not zero, a shift the next layers see as a wrong bias. For each
/// chosen layer, in graph order, the pass measures the mean per output channel of its output on calibration samples,
/// in the compressed model and in the float reference (the model before any lossy step), and adds the difference
/// E[y_reference − y_compressed] to the layer's bias (<see cref="BiasSlot"/>). Layers are corrected one after the
/// other, each measured with the corrections before it in place, as the errors they pass on change.
/// <para>It never makes the model worse on its calibration data: for each channel, subtracting the mean error μ
/// lowers the layer's mean squared error on those samples by exactly μ² (E[(e − μ)²] = E[e²] − μ²), and because the
/// layers after it are not linear, the pass also measures the model outputs' mean squared error against the reference
/// before and after (<see cref="Check"/>) and puts the model back unchanged when it rose.</para>
/// <para>Layer outputs become extra outputs of copies of the models (as calibration does) and are folded into
/// running per-channel sums batch by batch, so memory is bounded by one batch. Cost: per layer, one run over the samples
/// of the part of the model that layer depends on; one run of the reference for the layers' outputs; two runs of the
/// model for the check, before and after, against the reference's outputs. A search's candidates share what they can
/// (<see cref="LayerOutputCache"/>: the same parts, the reference's statistics, and its outputs up to
/// <see cref="LayerOutputCache.RecordedOutputBytes"/>), so the planner should correct only the layers it made lossy.
/// Only the main graph's layers are corrected (a subgraph's values cannot be fetched). A layer whose output the
/// reference lacks (a low-rank factor's first half) or whose channels differ from the reference's (a pruned layer;
/// its consumers can still be corrected, which recovers the mean the removed channels contributed) is skipped.</para>
/// <para>Measured on fashion-cnn's 10,000 validation images (calibration.npz, reference = the lossless model), accuracy
/// without → with correction: int8 weights 91.05 → 91.07%, static int8 91.05 → 91.12%, int4 Gemms + int8 convolutions
/// 91.02 → 91.00%, its 3136×256 Gemm at rank 8 73.35 → 88.99%, at rank 16 with every weight int4 90.83 → 91.11%
/// (original 91.04%). ppocr-rec's agreement with the original on its 100 lines: int8 weights 0.9828 → 0.9930,
/// int4 0.9852 → 0.9882.</para>
/// </summary>
public sealed class EmpiricalBiasCorrection : IGraphPass
{
    private readonly SampleSet _calibration;
    private readonly ModelProto _reference;
    private readonly IReadOnlySet<string>? _nodeNames;
    private readonly BiasCorrectionOptions _options;
    private readonly LayerOutputCache _measured;

    /// <param name="calibration">The samples to measure on (at most <see cref="BiasCorrectionOptions.MaxSamples"/>, spread over them).</param>
    /// <param name="reference">The float model before the lossy steps, with the same value names (the lossless model).</param>
    /// <param name="nodeNames">The layers to correct; null for every eligible one.</param>
    /// <param name="measured">Layer outputs measured by earlier applications on the same samples (a search's candidates share it).</param>
    internal EmpiricalBiasCorrection(SampleSet calibration, ModelProto reference, IReadOnlySet<string>? nodeNames, BiasCorrectionOptions? options, LayerOutputCache measured)
    {
        _calibration = calibration;
        _reference = reference;
        _nodeNames = nodeNames;
        _options = options ?? BiasCorrectionOptions.Default;
        _measured = measured;
    }

    /// <inheritdoc cref="EmpiricalBiasCorrection(SampleSet, ModelProto, IReadOnlySet{string}?, BiasCorrectionOptions?, LayerOutputCache)"/>
    public EmpiricalBiasCorrection(SampleSet calibration, ModelProto reference, IReadOnlySet<string>? nodeNames = null, BiasCorrectionOptions? options = null)
        : this(calibration, reference, nodeNames, options, new LayerOutputCache())
    {
    }

    /// <summary>The pass with the calibration samples and reference model of <paramref name="context"/>.</summary>
    /// <exception cref="InvalidOperationException">The context lacks calibration samples or the reference model.</exception>
    public static EmpiricalBiasCorrection FromContext(PassContext context, IReadOnlySet<string>? nodeNames = null, BiasCorrectionOptions? options = null) =>
        new(context.Calibration ?? throw new InvalidOperationException("Bias correction needs calibration samples (PassContext.Calibration)."),
            context.Reference ?? throw new InvalidOperationException("Bias correction needs the model before the lossy steps (PassContext.Reference)."),
            nodeNames, options, context.MeasuredLayerOutputs);

    public string Name => "bias-correction";

    /// <summary>What the last <see cref="Apply"/> left alone and why.</summary>
    public IReadOnlyList<SkippedNode> Skipped { get; private set; } = [];

    /// <summary>What the last <see cref="Apply"/> corrected (empty when the check put the model back).</summary>
    public IReadOnlyList<LayerCorrection> Corrections { get; private set; } = [];

    /// <summary>The last <see cref="Apply"/>'s before/after check; null when it corrected nothing.</summary>
    public CorrectionCheck? Check { get; private set; }

    /// <summary>The main-graph layers whose bias the pass can shift, in graph order.</summary>
    public static IReadOnlyList<string> EligibleNodes(ModelProto model)
    {
        var graph = new ModelView(model).Main;
        return graph.TopologicalOrder().Where(n => BiasSlot.IsLayer(n) && BiasSlot.Find(graph, n, out _) is not null).Select(n => n.Name).ToList();
    }

    public int Apply(ModelProto model)
    {
        (Corrections, Check) = ([], null);
        var view = new ModelView(model);
        var graph = view.Main;
        var skipped = new List<SkippedNode>();
        bool Requested(NodeProto n) => _nodeNames is null || _nodeNames.Contains(n.Name);
        foreach (var sub in view.Graphs().Skip(1))
            foreach (var node in sub.Nodes.Where(n => BiasSlot.IsLayer(n) && Requested(n)))
                skipped.Add(new SkippedNode(node.Name, "it is inside a subgraph (If/Loop/Scan body), whose values cannot be measured"));

        var referenceGraph = new ModelView(_reference).Main;
        var slots = new List<(BiasSlot Slot, string Reference)>();
        foreach (var node in graph.TopologicalOrder().Where(n => BiasSlot.IsLayer(n) && Requested(n)))
        {
            var slot = BiasSlot.Find(graph, node, out var problem);
            if (slot is null) skipped.Add(new SkippedNode(node.Name, problem!));
            else if (ReferenceName(graph, referenceGraph, slot.Observed) is not { } referenceName)
                skipped.Add(new SkippedNode(node.Name, $"the reference model has no value '{slot.Observed}' to compare its output with (a layer the lossy steps added)"));
            else slots.Add((slot, referenceName));
        }
        if (_nodeNames is not null)
            foreach (var missing in _nodeNames.Where(n => !graph.Nodes.Any(node => node.Name == n) && skipped.All(s => s.Node != n)).Order(StringComparer.Ordinal))
                skipped.Add(new SkippedNode(missing, "the main graph has no node of that name"));
        Skipped = skipped;
        if (slots.Count == 0) return 0;

        var samples = _calibration.Spread(Math.Min(_options.MaxSamples, _calibration.Count));
        var outputs = model.Graph.Output.Select(o => o.Name).Where(n => referenceGraph.IsGraphOutput(n)).ToList();
        var snapshot = new ModelSnapshot(model);
        var referenceHash = OnnxModelFile.HashOf(_reference);
        var targets = MeasureReference(referenceHash, slots, samples);
        var reference = _measured.OutputsOf(referenceHash, $"{string.Join(", ", outputs)} on {samples.Count} samples of {samples.File}, {_options.Run}");
        var before = OutputError(model, samples, outputs, reference);

        // Layer by layer: each measured (on the part of the model it depends on) with the corrections before it in place.
        // Measuring every layer in one run and correcting all at once, even over several rounds, was tried: on
        // ppocr-rec (residual blocks, decomposed LayerNorms) the corrections compounded and the outputs got worse.
        var corrections = new List<LayerCorrection>();
        foreach (var (slot, referenceName) in slots)
        {
            var target = targets[referenceName];
            var (measured, consistent) = Measure(model, slot, samples);
            if (!consistent || measured.Channels != target.Channels)
            {
                skipped.Add(new SkippedNode(slot.Layer.Name, $"its output '{slot.Observed}' has {measured.Channels} channels where the reference's has {target.Channels} (pruned)"));
                continue;
            }
            var shift = target.Means().Zip(measured.Means(), (r, c) => r - c).ToArray();
            var share = ErrorShare(shift, target.MeanVariance());
            if (slot.CreatesBias && share < _options.MinNewBiasGain)
            {
                skipped.Add(new SkippedNode(slot.Layer.Name,
                    string.Create(CultureInfo.InvariantCulture, $"its mean error is {share:G3} of its output's variance, below {_options.MinNewBiasGain:G3}: a new bias would not pay for its bytes")));
                continue;
            }
            if (!slot.Shift(graph, view.Names, shift, out var problem))
            {
                skipped.Add(new SkippedNode(slot.Layer.Name, problem!));
                continue;
            }
            corrections.Add(new LayerCorrection(slot.Layer.Name, shift.Length, shift.Average(Math.Abs), share, slot.CreatesBias));
        }
        Skipped = skipped;
        if (corrections.Count == 0) return 0;

        var after = OutputError(model, samples, outputs, reference);
        Check = new CorrectionCheck(before, after, after <= before || outputs.Count == 0);
        if (!Check.Kept)
        {
            snapshot.RestoreInto(model);
            return 0;
        }
        Corrections = corrections;
        return corrections.Count;
    }

    // The layer's output statistics in the model as it is now (measured once per distinct part of the model it depends
    // on), and whether its channel count held over the batches.
    private (ChannelStatistics Statistics, bool Consistent) Measure(ModelProto model, BiasSlot slot, SampleSet samples)
    {
        var part = ModelProbe.Upstream(model, [slot.Observed]);
        return _measured.GetOrMeasure(part, slot.Observed, How(slot.ChannelAxis, samples), () =>
        {
            var statistics = new ChannelStatistics(slot.ChannelAxis);
            var consistent = true;
            using var probe = ModelProbe.Open(part, $"the model being corrected ({slot.Layer.Name})", [slot.Observed], [], _options.Run);
            SideBySideRuns.ForEach(samples, [probe], _options.Run, batch => consistent &= statistics.Add(batch[0][slot.Observed]));
            return (statistics, consistent);
        });
    }

    // The reference's statistics of every slot's output: the values a search's earlier candidates did not ask for, in one run.
    private Dictionary<string, ChannelStatistics> MeasureReference(string referenceHash, IReadOnlyList<(BiasSlot Slot, string Reference)> slots, SampleSet samples)
    {
        var axes = slots.DistinctBy(s => s.Reference).ToDictionary(s => s.Reference, s => s.Slot.ChannelAxis, StringComparer.Ordinal);
        return _measured.GetOrMeasure(referenceHash, axes.ToDictionary(a => a.Key, a => How(a.Value, samples), StringComparer.Ordinal), missing =>
        {
            var targets = missing.ToDictionary(v => v, v => new ChannelStatistics(axes[v]), StringComparer.Ordinal);
            using var reference = ModelProbe.Open(_reference, "the reference model", missing, [], _options.Run);
            SideBySideRuns.ForEach(samples, [reference], _options.Run, batch =>
            {
                foreach (var (value, statistics) in targets) statistics.Add(batch[0][value]);
            });
            return targets;
        });
    }

    private string How(int channelAxis, SampleSet samples) => $"axis {channelAxis}, {samples.Count} samples of {samples.File}, {_options.Run}";

    /// <summary>
    /// The reference's name for <paramref name="observed"/>: the same name, or, for a graph output static int8 quantized
    /// (the layer writes a new value, and the output's name passes to the DequantizeLinear after its QuantizeLinear),
    /// that output's name. Null when the reference has neither.
    /// </summary>
    internal static string? ReferenceName(GraphView graph, GraphView reference, string observed)
    {
        if (reference.Producer(observed) is not null) return observed;
        if (graph.Consumers(observed) is [{ Node: { OpType: "QuantizeLinear" } quantize }]
            && graph.Consumers(quantize.Output[0]) is [{ Node: { OpType: "DequantizeLinear" } dequantize }]
            && reference.Producer(dequantize.Output[0]) is not null)
            return dequantize.Output[0];
        return null;
    }

    // The model's outputs' mean squared error against the reference's (kept from earlier checks on the same batches).
    private double OutputError(ModelProto model, SampleSet samples, IReadOnlyList<string> outputs, RecordedOutputs recorded)
    {
        var error = new OutputErrorSum(outputs);
        using var reference = recorded.Over(() => ModelProbe.Open(_reference, "the reference model", [], outputs, _options.Run));
        using var corrected = ModelProbe.Open(model, "the model being corrected", [], outputs, _options.Run);
        SideBySideRuns.ForEach(samples, [reference, corrected], _options.Run, batch => error.Add(batch[0], batch[1]));
        return error.Mean;
    }

    private static double ErrorShare(double[] shift, double variance)
    {
        var meanSquare = shift.Average(s => s * s);
        return variance > 0 ? meanSquare / variance : meanSquare > 0 ? double.PositiveInfinity : 0;
    }

    /// <summary>Squared differences of the float outputs two models give for the same samples.</summary>
    private sealed class OutputErrorSum(IReadOnlyList<string> outputs)
    {
        private double _sum;
        private long _count;

        public double Mean => _count == 0 ? 0 : _sum / _count;

        public void Add(IReadOnlyDictionary<string, NdArray> expected, IReadOnlyDictionary<string, NdArray> actual)
        {
            foreach (var name in outputs)
            {
                if (expected[name].ElementType != DataType.Float || actual[name].ElementType != DataType.Float
                    || !expected[name].Shape.SequenceEqual(actual[name].Shape)) continue;
                var e = expected[name].AsSpan<float>();
                var a = actual[name].AsSpan<float>();
                for (var i = 0; i < e.Length; i++) _sum += ((double)e[i] - a[i]) * ((double)e[i] - a[i]);
                _count += e.Length;
            }
        }
    }
}
