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
/// After the post-training search: sketches more aggressive than its winner (the knapsack over the options' predicted and
/// measured drops at larger budgets), each fine-tuned against the original and measured on the search split. The least
/// aggressive comes first; a distilled sketch that breaks the budget on the split ends the search (larger ones would too).
/// Cost: per sketch, <see cref="DistillationOptions.Epochs"/> × training samples × the student's forward and backward pass.
/// </summary>
public sealed class DistillationSearch(
    CandidateEvaluator evaluator, Plan basePlan, CompressionSpace space, Budgets budgets, QuantizationKnobs knobs,
    IDistiller distiller, DistillationData data, TrainedWeightsSource weights, string modelName, SearchProgress progress)
{
    /// <summary>The knapsack's drop budgets, as multiples of MaxAccuracyDrop: distillation recovers what these sketches lose.</summary>
    public static IReadOnlyList<double> BudgetMultiples { get; } = [2, 4, 8];

    private static readonly DistilledWeights Pending = new("", "");

    public IReadOnlyList<DistilledCandidate> Run(IReadOnlyList<SettingProbe> probes, Candidate? postTrainingWinner, CancellationToken cancellation)
    {
        var results = new List<DistilledCandidate>();
        var tried = new HashSet<CompressionSketch>();
        foreach (var multiple in BudgetMultiples)
        {
            if (cancellation.IsCancellationRequested) break;
            var sketch = Knapsack(probes, budgets.MaxAccuracyDrop * multiple);
            if (sketch is null || !tried.Add(sketch)) continue;
            var untrained = evaluator.Measure(sketch.Describe(knobs, space.Layers.Count), PlanBuilder.Build(basePlan, sketch, knobs, space)) with { Sketch = sketch };
            if (postTrainingWinner is not null && untrained.SizeBytes >= postTrainingWinner.SizeBytes) continue;
            progress.Stage($"distilling {untrained.Label} ({Quantity.FormatSize(untrained.SizeBytes)}; {ReportWriter.Score(untrained.Search.Score)} on the search split untrained)");
            var distilled = Distil(sketch, cancellation);
            if (distilled is null) break;
            results.Add(distilled with { Untrained = untrained });
            if (!budgets.AllowsDrop(distilled.Distilled.Search.Drop)) break;
        }
        return results;
    }

    /// <summary>The smallest combination whose summed drops fit <paramref name="budget"/>; null when the options give none.</summary>
    private CompressionSketch? Knapsack(IReadOnlyList<SettingProbe> probes, double budget)
    {
        var units = probes.Where(p => p.Bytes < 0).GroupBy(p => (p.Kind, p.Unit))
            .Select(g => g.GroupBy(p => (p.Setting, p.PruneRatio)).Select(same => same.OrderBy(p => p.Predicted).First()).ToList())
            .OrderBy(u => u[0].Kind).ThenBy(u => u[0].Unit, StringComparer.Ordinal).ToList();
        var choice = MultipleChoiceKnapsack.Solve(
            units.Select(u => (IReadOnlyList<KnapsackOption>)[new KnapsackOption(0, 0), .. u.Select(p => new KnapsackOption(p.Bytes, p.Drop))]).ToList(), budget);
        return choice?.Select((c, i) => c > 0 ? units[i][c - 1] : null).OfType<SettingProbe>()
            .Aggregate(CompressionSketch.Unchanged, (sketch, option) => option.ApplyTo(sketch));
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
