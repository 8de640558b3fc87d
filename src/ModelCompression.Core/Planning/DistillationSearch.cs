using ModelCompression.Core.Data;
using ModelCompression.Core.Distillation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Distillation;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Planning.Registry;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Planning;

/// <summary>What a student learns from: training samples (never the validation data) and the held-out search split, with the teacher's outputs on both.</summary>
public sealed record DistillationData(
    ModelProto Teacher,
    SampleSet Training, IReadOnlyDictionary<string, NdArray> TrainingTeacher,
    SampleSet Holdout, IReadOnlyDictionary<string, NdArray> HoldoutTeacher,
    MetricKind Metric, DistillationOptions Options)
{
    /// <summary>
    /// The training samples without the search split's (when both come from the same file), so that the split that ranks
    /// candidates stays unseen; the teacher runs once over each set.
    /// </summary>
    public static DistillationData Prepare(ModelProto teacher, string modelName, SampleSet training, SampleSet holdout, MetricKind metric, DistillationOptions options)
    {
        if (training.SharesDataWith(holdout))
        {
            var held = Enumerable.Range(0, holdout.Count).Select(holdout.SourceIndex).ToHashSet();
            training = training.Subset(Enumerable.Range(0, training.Count).Where(i => !held.Contains(training.SourceIndex(i))));
        }
        return new(teacher, training, TeacherOutputs.Of(teacher, modelName, training), holdout, TeacherOutputs.Of(teacher, modelName, holdout), metric, options);
    }
}

/// <summary>A distilled candidate and the same sketch measured without training (the report shows both).</summary>
public sealed record DistilledCandidate(Candidate Distilled, Candidate Untrained, IReadOnlyList<DistillationEpoch> Epochs);

/// <summary>
/// After the post-training search: sketches more aggressive than its winner, each fine-tuned against the original and
/// measured on the search split. The sketches form a ladder (<see cref="Ladder"/>) from the winner down, one unit one rung
/// at a time; the search bisects it for the most aggressive sketch that still holds the budget on the split once
/// distilled, distilling at most <see cref="MaxDistillations"/> of them. Rungs, not the knapsack's predicted drops: what
/// distillation recovers is not what the predictions measure, and on small models the knapsack's estimated bytes miss
/// the file's overheads (digits-mlp: its sketches at 2-8× the budget were all larger than the post-training winner).
/// Cost: per sketch, <see cref="DistillationOptions.Epochs"/> × training samples × the student's forward and backward pass.
/// </summary>
public sealed class DistillationSearch(
    CandidateEvaluator evaluator, Plan basePlan, CompressionSpace space, Budgets budgets, QuantizationKnobs knobs,
    IDistiller distiller, DistillationData data, TrainedWeightsSource weights, string modelName, SearchProgress progress)
{
    /// <summary>At least this many sketches are distilled (bisection: a ladder of up to 2⁵ sketches).</summary>
    public const int MinDistillations = 5;

    /// <summary>
    /// The multiply-adds all distillations may cost together (forward and backward, about 3× a forward pass, per sample
    /// and epoch): beyond <see cref="MinDistillations"/>, small models distil every sketch of the ladder (digits-mlp: 34k
    /// a sample, so all 13), large ones bisect (fashion-cnn: 38M a sample × 20,000 × 7 epochs ≈ 1.6·10¹³ each).
    /// </summary>
    public const double MaxDistillationWork = 1.5e14;

    /// <summary>How many sketches this search may distil, for a model of <paramref name="multiplyAdds"/> a sample.</summary>
    public static int DistillationsFor(long multiplyAdds, int trainingSamples, int epochs) =>
        (int)Math.Clamp(MaxDistillationWork / Math.Max(1.0, 3.0 * multiplyAdds * trainingSamples * epochs), MinDistillations, 1000);

    /// <summary>How many rungs below the winner's option the ladder reaches for each unit.</summary>
    public const int MaxRungs = 3;

    private static readonly DistilledWeights Pending = new("", "");

    /// <summary>The search time's safety net stopped a training: the result depends on this machine's speed.</summary>
    public bool TimedOut { get; private set; }

    public IReadOnlyList<DistilledCandidate> Run(IReadOnlyList<SettingProbe> probes, Candidate? postTrainingWinner, int maxDistillations, CancellationToken cancellation)
    {
        var results = new List<DistilledCandidate>();
        var (ladder, fullRung) = Ladder(postTrainingWinner?.Sketch ?? CompressionSketch.Unchanged, probes, MaxRungs);
        // Every sketch when the work allows it (whether a small student holds is noisy, so one that fails does not say
        // the next will); else bisection for the last sketch that holds: ladder[held] held (the winner, or a distilled
        // one), ladder[failed] did not, and the first tried is every unit one rung down.
        var everySketch = maxDistillations >= ladder.Count - 1;
        int held = 0, failed = ladder.Count;
        for (var distilled = 0; distilled < maxDistillations && failed - held > 1 && !cancellation.IsCancellationRequested;)
        {
            var index = everySketch ? held + 1 : distilled == 0 && held == 0 ? Math.Min(fullRung, ladder.Count - 1) : (held + failed) / 2;
            var sketch = ladder[index];
            var untrained = evaluator.Measure(sketch.Describe(knobs, space.Layers.Count), PlanBuilder.Build(basePlan, sketch, knobs, space)) with { Sketch = sketch };
            if (postTrainingWinner is not null && untrained.SizeBytes >= postTrainingWinner.SizeBytes)
            {
                progress.Stage($"not distilling {untrained.Label}: {Quantity.FormatSize(untrained.SizeBytes)} is no smaller than {Quantity.FormatSize(postTrainingWinner.SizeBytes)}");
                held = index;
                continue;
            }
            progress.Stage($"distilling sketch {index} of {ladder.Count - 1}: {untrained.Label} ({Quantity.FormatSize(untrained.SizeBytes)}; " +
                           $"{ReportWriter.Score(untrained.Search.Score)} on the search split untrained)");
            distilled++;
            if (Distil(sketch, untrained, cancellation) is not { } result) break;
            results.Add(result);
            if (everySketch || (budgets.AllowsDrop(result.Distilled.Search.Drop) && budgets.AllowsLatency(result.Distilled.Latency))) held = index;
            else failed = index;
        }
        return results;
    }

    /// <summary>
    /// The sketches from <paramref name="winner"/> down: each unit (layer or channel group) moves one rung at a time, the
    /// units whose next rung saves the most first, up to <paramref name="maxRungs"/> rungs below where the winner left it.
    /// A unit's rungs are its options by the bytes they save, one per size, each storing less than the last; only in the
    /// storage formats the winner uses (they held its latency budget; int4's estimated bytes also miss its scales'
    /// overhead on small layers); data-aware where the unit offers both roundings of one size (whitened factors start
    /// training closer: digits-mlp's sketches rounded to nearest lost up to 1.5 points more after training). Element 0 is
    /// the winner itself; <c>FullRung</c> is the index of the first sketch with every unit one rung down.
    /// </summary>
    internal static (IReadOnlyList<CompressionSketch> Sketches, int FullRung) Ladder(CompressionSketch winner, IReadOnlyList<SettingProbe> probes, int maxRungs)
    {
        var formats = winner.Layers.Values.Select(s => s.Format).ToHashSet();
        bool Allowed(SettingProbe p) => p.Setting is not { } setting || formats.Count == 0 || formats.Contains(setting.Format);
        var rungs = probes.Where(p => p.Bytes < 0 && Allowed(p)).GroupBy(p => (p.Kind, p.Unit))
            .OrderBy(u => u.Key.Kind).ThenBy(u => u.Key.Unit, StringComparer.Ordinal)
            .Select(unit =>
            {
                var now = unit.Key.Kind == UnitKind.Layer
                    ? unit.FirstOrDefault(p => p.Setting == winner.SettingOf(unit.Key.Unit))?.Bytes ?? 0
                    : unit.FirstOrDefault(p => p.PruneRatio == winner.Pruning.GetValueOrDefault(unit.Key.Unit))?.Bytes ?? 0;
                return unit.Where(p => p.Bytes < now).GroupBy(p => p.Bytes).OrderByDescending(g => g.Key)
                    .Select(g => g.OrderByDescending(p => p.Setting?.Rounding).ThenBy(p => p.Setting?.ToString() ?? "", StringComparer.Ordinal).ThenBy(p => p.PruneRatio).First())
                    .Take(maxRungs).Select(p => (Probe: p, Saving: now - p.Bytes)).ToList();
            }).ToList();
        var sketch = winner;
        var ladder = new List<CompressionSketch> { sketch };
        for (var rung = 0; rung < maxRungs; rung++)
            foreach (var (probe, _) in rungs.Where(r => r.Count > rung).Select(r => r[rung]).OrderByDescending(r => r.Saving).ThenBy(r => r.Probe.Unit, StringComparer.Ordinal))
                ladder.Add(sketch = probe.ApplyTo(sketch));
        return (ladder, rungs.Count(r => r.Count > 0));
    }

    /// <summary>Trains the student of <paramref name="sketch"/> and measures it; null when the distiller refuses it or the search time ran out.</summary>
    private DistilledCandidate? Distil(CompressionSketch sketch, Candidate untrained, CancellationToken cancellation)
    {
        var plan = PlanBuilder.Build(basePlan, sketch with { Distilled = Pending }, knobs, space);
        var at = plan.Steps.IndexOf(plan.Steps.First(s => s.Pass == TrainedWeightsPass.PassName));
        var student = evaluator.Apply(new Plan(plan.Steps.Take(at)));
        var trained = TrainableWeights(student);
        var job = new DistillationJob(data.Teacher, student, data.Training, data.TrainingTeacher, data.Holdout, data.HoldoutTeacher,
            trained, Quantized(student, sketch, trained), data.Metric, data.Options);
        DistillationResult result;
        try
        {
            result = distiller.Distill(job, new StageProgress(progress), cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The safety net (MaxSearchTime) fired during training: the candidates measured so far stand.
            TimedOut = true;
            return null;
        }
        if (result.Weights is null)
        {
            progress.Stage($"{modelName} is not distilled: {result.Refusal}");
            return null;
        }
        var file = TrainedWeights.Of(result.Weights);
        weights.Add(file);
        var distilled = sketch with { Distilled = new DistilledWeights(file.FileName(modelName), file.Sha256) };
        var candidate = evaluator.Measure(distilled.Describe(knobs, space.Layers.Count), PlanBuilder.Build(basePlan, distilled, knobs, space)) with { Sketch = distilled };
        if (budgets.AllowsDrop(candidate.Search.Drop)) candidate = evaluator.ConfirmLatency(candidate, budgets);
        progress.Candidate(new CandidateProgress(candidate.Label, candidate.SizeBytes, candidate.Search.Score, candidate.Latency.Ratio,
            budgets.AllowsDrop(candidate.Search.Drop) && budgets.AllowsLatency(candidate.Latency) && budgets.AllowsSize(candidate.SizeBytes)));
        return new DistilledCandidate(candidate, untrained, result.Epochs);
    }

    /// <summary>The trainer's lines as search stages, in order, on the trainer's thread (<see cref="Progress{T}"/> would post them to the thread pool).</summary>
    private sealed class StageProgress(SearchProgress progress) : IProgress<string>
    {
        public void Report(string value) => progress.Stage(value);
    }

    /// <summary>The float weights and biases of the student's layers (Conv, Gemm, MatMul constants): what training changes.</summary>
    private static IReadOnlyList<string> TrainableWeights(ModelProto student)
    {
        var floats = student.Graph.Initializer.Where(i => i.DataType == (int)DataType.Float).Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        return student.Graph.Node.Where(n => n.OpType is "Conv" or "Gemm" or "MatMul")
            .SelectMany(n => n.Input.Skip(1)).Where(floats.Contains).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The weights a later step stores as int8, int4 or a palette, so that training sees their rounding.</summary>
    private IReadOnlyDictionary<string, WeightQuantization> Quantized(ModelProto student, CompressionSketch sketch, IReadOnlyList<string> trained)
    {
        var result = new Dictionary<string, WeightQuantization>(StringComparer.Ordinal);
        foreach (var weight in QuantizableWeight.Find(student.Graph).Where(w => w.InputIndex == 1 && trained.Contains(w.Initializer.Name)))
        {
            var setting = sketch.SettingOf(SketchReader.LayerOf(weight.Node.Name));
            WeightQuantization? quantization = setting.Format switch
            {
                WeightFormat.Int8 => new WeightQuantization(8, ChannelAxis: weight.ChannelAxis),
                WeightFormat.Int4 => new WeightQuantization(4, knobs.Int4BlockSize, ChannelAxis: weight.ChannelAxis),
                WeightFormat.Palette => new WeightQuantization(0, PaletteSize: 1 << setting.Bits, ChannelAxis: weight.ChannelAxis),
                _ => null,
            };
            if (quantization is not null) result[weight.Initializer.Name] = quantization;
        }
        return result;
    }
}
