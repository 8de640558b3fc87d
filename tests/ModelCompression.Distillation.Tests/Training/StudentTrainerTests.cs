using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Training;

namespace ModelCompression.Distillation.Tests.Training;

public sealed class StudentTrainerTests
{
    private static readonly WeightQuantization Int4 = new(Bits: 4);

    private static readonly IReadOnlyDictionary<string, WeightQuantization> Int4Matrices =
        MlpStudent.Matrices.ToDictionary(m => m, _ => Int4, StringComparer.Ordinal);

    private static readonly IReadOnlyDictionary<string, WeightQuantization> NoQuantization = new Dictionary<string, WeightQuantization>();

    private static readonly DistillationOptions Fast = new(Epochs: 12, Patience: 3, BatchSize: 64, LearningRate: 3e-3, Temperature: 2, Seed: 3);

    [Theory]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    [InlineData(false, 16)]
    public void The_same_int4_plan_scores_higher_on_the_holdout_after_distillation(bool softmax, int blockSize)
    {
        var scenario = new Scenario(softmax: softmax);
        // The plan: prune fc1 by half (smallest magnitudes), then int4 both matrices (per channel, or in blocks).
        var pruned = Pruned(scenario.TeacherWeights, "fc1.weight", fraction: 0.5);
        using var student = scenario.Student(pruned);
        var lines = new List<string>();
        var plan = MlpStudent.Matrices.ToDictionary(m => m, _ => new WeightQuantization(4, BlockSize: blockSize), StringComparer.Ordinal);

        var result = new StudentTrainer(MetricKind.Agreement, Fast).Train(student, scenario.Training, scenario.Holdout, plan, new SynchronousProgress(lines), cancellation: TestContext.Current.CancellationToken);

        Func<IReadOnlyDictionary<string, NdArray>, Dictionary<string, NdArray>> quantize = blockSize == 0 ? Scenario.QuantizedInt4 : w => Scenario.QuantizedInt4Blocks(w, blockSize);
        var before = scenario.Agreement(quantize(pruned));
        var after = scenario.Agreement(quantize(result.Weights));
        Assert.True(after > before, $"int4 after distillation {after:P2}, before {before:P2}");
        Assert.True(result.Best.Agreement > result.Initial.Agreement, $"{result.Best} vs untrained {result.Initial}");
        Assert.True(result.Best.Loss < result.Initial.Loss, $"{result.Best} vs untrained {result.Initial}");
        // The untrained score is the plan's own rounding, and the best epoch's is what the returned weights score.
        Assert.Equal(before, result.Initial.Agreement);
        Assert.Equal(after, result.Best.Agreement);
        Assert.Equal(result.Epochs.Count, lines.Count);
        Assert.All(lines, l => Assert.Matches(@"^epoch \d+/12: training loss .+, holdout loss .+, holdout agreement .+%, [\d.]+ s$", l));
        Assert.Equal(0, student.TransformCount);
    }

    [Fact]
    public void The_same_palette_plan_scores_higher_on_the_holdout_after_distillation()
    {
        var scenario = new Scenario();
        var start = scenario.TeacherWeights;
        using var student = scenario.Student(start);
        var palettes = MlpStudent.Matrices.ToDictionary(m => m, _ => new WeightQuantization(Bits: 0, PaletteSize: 4), StringComparer.Ordinal);

        var result = new StudentTrainer(MetricKind.Agreement, Fast).Train(student, scenario.Training, scenario.Holdout, palettes, cancellation: TestContext.Current.CancellationToken);

        var before = scenario.Agreement(Scenario.Palettized(start, entries: 4));
        var after = scenario.Agreement(Scenario.Palettized(result.Weights, entries: 4));
        Assert.True(after > before, $"4-entry palettes after distillation {after:P2}, before {before:P2}");
        Assert.Equal(before, result.Initial.Agreement);
        Assert.Equal(after, result.Best.Agreement);
    }

    [Fact]
    public void Pruned_weights_stay_exactly_zero()
    {
        var scenario = new Scenario(trainingSamples: 256, holdoutSamples: 128);
        var pruned = Pruned(Pruned(scenario.TeacherWeights, "fc1.weight", 0.6), "fc2.weight", 0.3);
        using var student = scenario.Student(pruned);

        var result = new StudentTrainer(MetricKind.Agreement, Fast with { Epochs = 3, LearningRate = 1e-2 })
            .Train(student, scenario.Training, scenario.Holdout, new Dictionary<string, WeightQuantization> { ["fc2.weight"] = Int4 }, cancellation: TestContext.Current.CancellationToken);

        Assert.True(result.BestEpoch > 0);
        foreach (var name in new[] { "fc1.weight", "fc2.weight" })
        {
            var original = pruned[name].AsSpan<float>().ToArray();
            var trained = result.Weights[name].AsSpan<float>().ToArray();
            Assert.All(original.Zip(trained).Where(p => p.First == 0), p => Assert.Equal(0f, p.Second));
            Assert.Contains(original.Zip(trained), p => p.First != 0 && p.First != p.Second);
        }
    }

    [Fact]
    public void Two_runs_give_byte_identical_weights()
    {
        var scenario = new Scenario(trainingSamples: 512, holdoutSamples: 128);
        var start = Pruned(scenario.Perturbed(0.1), "fc1.weight", 0.5);
        var quantized = new Dictionary<string, WeightQuantization> { ["fc1.weight"] = Int4, ["fc2.weight"] = new(Bits: 0, PaletteSize: 8) };
        var options = Fast with { Epochs = 3, Mixup = true };

        TrainingResult Run()
        {
            using var student = scenario.Student(start);
            return new StudentTrainer(MetricKind.Agreement, options) { Teacher = scenario.Teacher.Run }
                .Train(student, scenario.Training, scenario.Holdout, quantized, cancellation: TestContext.Current.CancellationToken);
        }

        var first = Run();
        var second = Run();
        Assert.True(first.BestEpoch > 0, "training improved on the start, so the weights compared are trained ones");
        Assert.Equal(first.Epochs, second.Epochs);
        Assert.Equal(first.Weights.Keys.Order(), second.Weights.Keys.Order());
        foreach (var (name, weight) in first.Weights) Assert.Equal(weight.Data, second.Weights[name].Data);
    }

    [Theory]
    [InlineData(1.0, 40, 2, true)]     // a step so large that training soon stops improving: stops early
    [InlineData(3e-3, 3, 100, false)]  // runs every epoch allowed, no more
    public void Early_stopping_returns_the_best_epochs_weights_within_the_epoch_bound(double learningRate, int epochs, int patience, bool stopsEarly)
    {
        var scenario = new Scenario(trainingSamples: 256, holdoutSamples: 256);
        var start = Pruned(scenario.TeacherWeights, "fc1.weight", 0.5);
        using var student = scenario.Student(start);
        var trainer = new StudentTrainer(MetricKind.Agreement, Fast with { Epochs = epochs, Patience = patience, LearningRate = learningRate });

        var result = trainer.Train(student, scenario.Training, scenario.Holdout, NoQuantization, cancellation: TestContext.Current.CancellationToken);

        Assert.Equal(Math.Min(epochs, result.BestEpoch + patience), result.Epochs.Count);
        Assert.Equal(stopsEarly, result.Epochs.Count < epochs);
        Assert.Equal(Enumerable.Range(1, result.Epochs.Count), result.Epochs.Select(e => e.Epoch));
        Assert.All(result.Epochs.Skip(result.BestEpoch), e => Assert.False(
            e.HoldoutAgreement > result.Best.Agreement || (e.HoldoutAgreement == result.Best.Agreement && e.HoldoutLoss < result.Best.Loss)));
        using var reloaded = scenario.Student(result.Weights);
        Assert.Equal(result.Best, trainer.Evaluate(reloaded, scenario.Holdout));
        Assert.Equal(result.Best, trainer.Evaluate(student, scenario.Holdout)); // the student is left holding them
    }

    [Fact]
    public void Labels_add_a_cross_entropy_term_that_pulls_towards_them()
    {
        var scenario = new Scenario(trainingSamples: 512, holdoutSamples: 128);
        // Labels the teacher disagrees with everywhere: only the labels' term can teach them. The holdout here scores
        // against those labels (one-hot scores as its "teacher"), so early stopping keeps the epoch closest to them.
        var shifted = scenario.TeacherClasses(scenario.Training).Select(c => (c + 1) % Scenario.Classes).ToArray();
        var labelled = new TrainingData(scenario.Training.Inputs, scenario.Training.TeacherOutputs, shifted);
        var oneHot = shifted.SelectMany(c => Enumerable.Range(0, Scenario.Classes).Select(k => k == c ? 10f : 0f)).ToArray();
        var judgedByLabels = new TrainingData(scenario.Training.Inputs,
            new Dictionary<string, NdArray> { [MlpStudent.Output] = NdArray.Create<float>([shifted.Length, Scenario.Classes], oneHot) }, shifted);
        var start = scenario.Perturbed(0.2);
        var options = Fast with { Epochs = 4, Patience = 4, LearningRate = 1e-2 };

        TrainingResult Run(TrainingData data, double labelWeight)
        {
            using var student = scenario.Student(start);
            return new StudentTrainer(MetricKind.Accuracy, options with { LabelWeight = labelWeight })
                .Train(student, data, judgedByLabels, NoQuantization, cancellation: TestContext.Current.CancellationToken);
        }

        var unlabelled = Run(scenario.Training, 0.8);
        var ignored = Run(labelled, 0);
        var withLabels = Run(labelled, 0.8);

        Assert.Equal(unlabelled.Epochs, ignored.Epochs); // α = 0, or no labels: the same training
        var accuracyWithout = Scenario.Accuracy(ignored.Weights, labelled, softmax: false);
        var accuracyWith = Scenario.Accuracy(withLabels.Weights, labelled, softmax: false);
        Assert.True(accuracyWith > accuracyWithout, $"accuracy on the labels {accuracyWith:P1} with their term, {accuracyWithout:P1} without");
        Assert.True(withLabels.BestEpoch > 0);
    }

    [Theory]
    [InlineData(MetricKind.Mse)]
    [InlineData(MetricKind.Cosine)]
    public void Labels_are_not_used_for_value_metrics(MetricKind metric)
    {
        var scenario = new Scenario(trainingSamples: 256, holdoutSamples: 64);
        var labelled = new TrainingData(scenario.Training.Inputs, scenario.Training.TeacherOutputs, new long[scenario.Training.Count]);

        TrainingResult Run(TrainingData data)
        {
            using var student = scenario.Student(scenario.Perturbed(0.2));
            return new StudentTrainer(metric, Fast with { Epochs = 2 }).Train(student, data, scenario.Holdout, NoQuantization, cancellation: TestContext.Current.CancellationToken);
        }

        var withLabels = Run(labelled);
        Assert.Equal(Run(scenario.Training).Epochs, withLabels.Epochs);
        Assert.True(withLabels.Best.Loss < withLabels.Initial.Loss);
    }

    [Fact]
    public void A_label_outside_the_first_outputs_classes_is_refused()
    {
        var scenario = new Scenario(trainingSamples: 64, holdoutSamples: 64);
        var labels = Enumerable.Repeat(0L, 63).Append(Scenario.Classes).ToArray();
        var labelled = new TrainingData(scenario.Training.Inputs, scenario.Training.TeacherOutputs, labels);
        using var student = scenario.Student(scenario.TeacherWeights);

        var error = Assert.Throws<ArgumentException>(() => new StudentTrainer(MetricKind.Accuracy, Fast)
            .Train(student, labelled, scenario.Holdout, NoQuantization, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains($"Label {Scenario.Classes} ", error.Message);
    }

    [Fact]
    public void Mixup_trains_on_mixed_inputs_labelled_by_the_teacher_function_and_is_off_without_one()
    {
        var scenario = new Scenario(trainingSamples: 256, holdoutSamples: 128);
        var start = scenario.Perturbed(0.2);
        var options = Fast with { Epochs = 3 };
        var teacherCalls = 0;

        TrainingResult Run(bool mixup, TeacherFunction? teacher)
        {
            using var student = scenario.Student(start);
            return new StudentTrainer(MetricKind.Agreement, options with { Mixup = mixup }) { Teacher = teacher }
                .Train(student, scenario.Training, scenario.Holdout, Int4Matrices, cancellation: TestContext.Current.CancellationToken);
        }

        var plain = Run(mixup: false, teacher: null);
        var noTeacher = Run(mixup: true, teacher: null);
        var mixed = Run(mixup: true, teacher: inputs => { teacherCalls++; return scenario.Teacher.Run(inputs); });

        Assert.Equal(plain.Epochs, noTeacher.Epochs);
        Assert.Equal(3 * (256 / options.BatchSize), teacherCalls); // once per batch
        Assert.NotEqual(plain.Epochs[0].TrainingLoss, mixed.Epochs[0].TrainingLoss);
        Assert.True(mixed.Best.Loss < mixed.Initial.Loss, $"{mixed.Best} vs untrained {mixed.Initial}");
    }

    [Fact]
    public void Cancellation_stops_between_batches()
    {
        var scenario = new Scenario(trainingSamples: 128, holdoutSamples: 64);
        using var student = scenario.Student(scenario.TeacherWeights);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();

        Assert.ThrowsAny<OperationCanceledException>(() =>
            new StudentTrainer(MetricKind.Agreement, Fast).Train(student, scenario.Training, scenario.Holdout, Int4Matrices, cancellation: cancelled.Token));
        Assert.Equal(0, student.TransformCount);
    }

    [Fact]
    public void A_quantized_weight_that_is_not_trained_is_refused()
    {
        var scenario = new Scenario(trainingSamples: 64, holdoutSamples: 64);
        using var student = scenario.Student(scenario.TeacherWeights);
        var quantized = new Dictionary<string, WeightQuantization> { ["conv9.weight"] = Int4 };

        Assert.Throws<ArgumentException>(() => new StudentTrainer(MetricKind.Agreement, Fast).Train(student, scenario.Training, scenario.Holdout, quantized, cancellation: TestContext.Current.CancellationToken));
    }

    /// <summary>The weights with the <paramref name="fraction"/> of <paramref name="name"/>'s smallest magnitudes set to zero.</summary>
    private static Dictionary<string, NdArray> Pruned(IReadOnlyDictionary<string, NdArray> weights, string name, double fraction)
    {
        var values = weights[name].AsSpan<float>().ToArray();
        var threshold = values.Select(MathF.Abs).Order().ElementAt((int)(values.Length * fraction));
        var pruned = values.Select(v => MathF.Abs(v) < threshold ? 0f : v).ToArray();
        return weights.ToDictionary(w => w.Key, w => w.Key == name ? NdArray.Create<float>(w.Value.Shape, pruned) : w.Value, StringComparer.Ordinal);
    }

    private sealed class SynchronousProgress(List<string> lines) : IProgress<string>
    {
        public void Report(string value) => lines.Add(value);
    }
}
