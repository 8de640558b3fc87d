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
        return new(training, TeacherOutputs.Of(teacher, modelName, training), holdout, TeacherOutputs.Of(teacher, modelName, holdout), metric, options);
    }
}

/// <summary>A distilled candidate and the same sketch measured without training (the report shows both).</summary>
public sealed record DistilledCandidate(Candidate Distilled, Candidate Untrained, IReadOnlyList<DistillationEpoch> Epochs);

/// <summary>
/// After the post-training search: sketches more aggressive than its winner, each fine-tuned against the original and
/// measured on the search split. Sketch k moves every layer and channel group k rungs further down its ladder of options
/// (ordered by the bytes they save), from where the winner left it; a distilled sketch that breaks the budget on the
/// split ends the search (the next would too). Rungs, not the knapsack's predicted drops: what distillation recovers is
/// not what the predictions measure, and on small models the knapsack's estimated bytes miss the file's overheads
/// (digits-mlp: its sketches at 2-8× the budget were all larger than the post-training winner).
/// Cost: per sketch, <see cref="DistillationOptions.Epochs"/> × training samples × the student's forward and backward pass.
/// </summary>
public sealed class DistillationSearch(
    CandidateEvaluator evaluator, Plan basePlan, CompressionSpace space, Budgets budgets, QuantizationKnobs knobs,
    IDistiller distiller, DistillationData data, TrainedWeightsSource weights, string modelName, SearchProgress progress)
{
    /// <summary>At most this many sketches are distilled, each one rung more aggressive than the last.</summary>
    public const int MaxSketches = 4;

    private static readonly DistilledWeights Pending = new("", "");

    public IReadOnlyList<DistilledCandidate> Run(IReadOnlyList<SettingProbe> probes, Candidate? postTrainingWinner, CancellationToken cancellation)
    {
        var results = new List<DistilledCandidate>();
        var start = postTrainingWinner?.Sketch ?? CompressionSketch.Unchanged;
        var previous = start;
        for (var rungs = 1; rungs <= MaxSketches && !cancellation.IsCancellationRequested; rungs++)
        {
            var sketch = MoreAggressive(start, probes, rungs);
            if (sketch.Equals(previous)) break;
            previous = sketch;
            var untrained = evaluator.Measure(sketch.Describe(knobs, space.Layers.Count), PlanBuilder.Build(basePlan, sketch, knobs, space)) with { Sketch = sketch };
            if (postTrainingWinner is not null && untrained.SizeBytes >= postTrainingWinner.SizeBytes)
            {
                progress.Stage($"not distilling {untrained.Label}: {Quantity.FormatSize(untrained.SizeBytes)} is no smaller than {Quantity.FormatSize(postTrainingWinner.SizeBytes)}");
                continue;
            }
            progress.Stage($"distilling {untrained.Label} ({Quantity.FormatSize(untrained.SizeBytes)}; {ReportWriter.Score(untrained.Search.Score)} on the search split untrained)");
            var distilled = Distil(sketch, cancellation);
            if (distilled is null) break;
            results.Add(distilled with { Untrained = untrained });
            if (!budgets.AllowsDrop(distilled.Distilled.Search.Drop)) break;
        }
        return results;
    }

    /// <summary>
    /// <paramref name="from"/> with every unit <paramref name="rungs"/> options further down its ladder (the last rung at most).
    /// A ladder holds the unit's options by the bytes they save, one per size (rounding variants of one size are one
    /// rung: data-aware where offered), so each rung stores less; only in the storage formats the winner uses, which held
    /// its latency budget (int4's estimated bytes also miss its scales' overhead on small layers: digits-mlp's int4 rungs
    /// came out twice the winner's size).
    /// </summary>
    internal static CompressionSketch MoreAggressive(CompressionSketch from, IReadOnlyList<SettingProbe> probes, int rungs)
    {
        var sketch = from;
        var formats = from.Layers.Values.Select(s => s.Format).ToHashSet();
        bool Allowed(SettingProbe p) => p.Setting is not { } setting || formats.Count == 0 || formats.Contains(setting.Format);
        foreach (var unit in probes.Where(p => p.Bytes < 0).GroupBy(p => (p.Kind, p.Unit)).OrderBy(u => u.Key.Kind).ThenBy(u => u.Key.Unit, StringComparer.Ordinal))
        {
            var now = unit.Key.Kind == UnitKind.Layer
                ? unit.FirstOrDefault(p => p.Setting == from.SettingOf(unit.Key.Unit))?.Bytes ?? 0
                : unit.FirstOrDefault(p => p.PruneRatio == from.Pruning.GetValueOrDefault(unit.Key.Unit))?.Bytes ?? 0;
            var ladder = unit.Where(p => p.Bytes < now && Allowed(p)).GroupBy(p => p.Bytes).OrderByDescending(g => g.Key)
                .Select(g => g.OrderByDescending(p => p.Setting?.Rounding).ThenBy(p => p.Setting?.ToString() ?? "", StringComparer.Ordinal).First())
                .ToList();
            if (ladder.Count > 0) sketch = ladder[Math.Min(ladder.Count, rungs) - 1].ApplyTo(sketch);
        }
        return sketch;
    }

    private DistilledCandidate? Distil(CompressionSketch sketch, CancellationToken cancellation)
    {
        var plan = PlanBuilder.Build(basePlan, sketch with { Distilled = Pending }, knobs, space);
        var at = plan.Steps.IndexOf(plan.Steps.First(s => s.Pass == TrainedWeightsPass.PassName));
        var student = evaluator.Apply(new Plan(plan.Steps.Take(at)));
        var trained = TrainableWeights(student);
        var job = new DistillationJob(student, data.Training, data.TrainingTeacher, data.Holdout, data.HoldoutTeacher,
            trained, Quantized(student, sketch, trained), data.Metric, data.Options);
        var result = distiller.Distill(job, new Progress<string>(line => progress.Stage(line)), cancellation);
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
        return new DistilledCandidate(candidate, candidate, result.Epochs);
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
