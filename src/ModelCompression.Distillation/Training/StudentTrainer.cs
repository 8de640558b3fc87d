using System.Diagnostics;
using System.Globalization;
using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Training;

/// <summary>The teacher run on any inputs (by input name), returning its outputs by output name; used for mixed-up inputs.</summary>
public delegate IReadOnlyDictionary<string, NdArray> TeacherFunction(IReadOnlyDictionary<string, NdArray> inputs);

/// <summary>How close the student is to the teacher on the holdout.</summary>
/// <param name="Loss">The distillation loss (<see cref="DistillationLoss.Soft"/>), mean over samples.</param>
/// <param name="Agreement">Fraction of positions whose top-1 class is the teacher's, over every class-score output; NaN without one.</param>
public readonly record struct HoldoutScore(double Loss, double Agreement);

/// <summary>The training's outcome.</summary>
/// <param name="Weights">The best epoch's weights by initializer name (float32, the parameters' shapes): latent, unrounded values.</param>
/// <param name="Epochs">One record per epoch run.</param>
/// <param name="BestEpoch">The epoch whose weights are returned; 0 when no epoch beat the untrained student (its weights are returned).</param>
/// <param name="Initial">The untrained student's holdout score (with the same fake quantization).</param>
public sealed record TrainingResult(IReadOnlyDictionary<string, NdArray> Weights, IReadOnlyList<DistillationEpoch> Epochs, int BestEpoch, HoldoutScore Initial)
{
    public HoldoutScore Best => BestEpoch == 0 ? Initial : new(Epochs[BestEpoch - 1].HoldoutLoss, Epochs[BestEpoch - 1].HoldoutAgreement);
}

/// <summary>
/// Knowledge distillation of an <see cref="IStudent"/> against cached teacher outputs: Adam on shuffled mini-batches,
/// the loss of <see cref="DistillationLoss"/>, pruned zeros kept (<see cref="WeightMasks"/>), quantized weights trained
/// through their rounding (<see cref="FakeQuantizer"/>), early stopping on the holdout.
/// </summary>
/// <remarks>
/// <para>Cost: epochs × training samples × (forward + backward) of the student, plus epochs × holdout samples × forward,
/// plus one k-means per palettized weight per epoch. Memory: the data sets as tensors (besides the caller's arrays),
/// the parameters with Adam's two moments (3× the trained weights) and one batch's activations — each batch's tensors
/// are freed when the batch ends, so memory does not grow with the number of batches.</para>
/// <para>Deterministic on one machine: the shuffle and mixup draw from <see cref="Random"/>(Seed), libtorch's generator
/// is seeded, and the CPU kernels used are deterministic for a fixed thread count (left at libtorch's default).</para>
/// <para>Improvement on the holdout: for class scores (accuracy, agreement) a higher top-1 agreement with the teacher,
/// or the same agreement and a lower loss; for cosine and mse a lower loss.</para>
/// </remarks>
public sealed class StudentTrainer(MetricKind metric, DistillationOptions options)
{
    public MetricKind Metric { get; } = metric;

    public DistillationOptions Options { get; } = options;

    /// <summary>
    /// Runs the teacher on mixed inputs (their outputs are not in the cache). Mixup (<see cref="DistillationOptions.Mixup"/>)
    /// needs it and is off without it, and off when an input is not floating point (token ids cannot be mixed).
    /// </summary>
    public TeacherFunction? Teacher { get; init; }

    /// <summary>
    /// Trains <paramref name="student"/>'s parameters and leaves it holding the best weights (its weight transforms
    /// cleared). Weights named in <paramref name="quantized"/> must be parameters.
    /// </summary>
    /// <exception cref="OperationCanceledException">Cancelled between batches; the student then holds partly trained weights.</exception>
    public TrainingResult Train(IStudent student, TrainingData training, TrainingData holdout, IReadOnlyDictionary<string, WeightQuantization> quantized,
        IProgress<string>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Options.BatchSize);
        TorchRuntime.EnsureLoaded();
        random.manual_seed(Options.Seed);
        var shuffle = new Random(Options.Seed);
        var clock = Stopwatch.StartNew();

        var parameters = student.Parameters.OrderBy(p => p.Key, StringComparer.Ordinal).ToList(); // a fixed order for Adam
        using var trainingSet = new BatchSource(training, student);
        using var holdoutSet = new BatchSource(holdout, student);
        var trainingLoss = new DistillationLoss(Metric, Options.Temperature, Options.LabelWeight, trainingSet.TeacherOutputs);
        var holdoutLoss = new DistillationLoss(Metric, Options.Temperature, Options.LabelWeight, holdoutSet.TeacherOutputs);
        if (trainingLoss.LabelClasses > 0 && training.Labels?.Where(l => l < 0 || l >= trainingLoss.LabelClasses).Take(1).ToList() is [var invalid])
            throw new ArgumentException($"Label {invalid} is not a class of the first output (0..{trainingLoss.LabelClasses - 1}).", nameof(training));
        var mixup = Options.Mixup && Teacher is not null && trainingSet.InputsAreFloat;
        using var masks = new WeightMasks(parameters.Select(p => p.Value));
        var quantizers = quantized.ToDictionary(
            q => student.Parameters.ContainsKey(q.Key) ? q.Key : throw new ArgumentException($"The quantized weight '{q.Key}' is not a trained parameter.", nameof(quantized)),
            q => new FakeQuantizer(q.Value), StringComparer.Ordinal);
        using var optimizer = new HeldScalarAdam(parameters.Select(p => p.Value), Options.LearningRate);
        // The rate decays to zero over the planned epochs (cosine): at a constant rate the holdout agreement of a
        // fashion-cnn student swung ±1 point from epoch to epoch instead of settling.
        var schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, Options.Epochs);
        try
        {
            foreach (var (name, quantizer) in quantizers)
            {
                quantizer.Refresh(student.Parameters[name]);
                student.SetWeightTransform(name, quantizer.StraightThrough);
            }
            var initial = Evaluate(student, holdoutSet, holdoutLoss);
            var (best, bestEpoch, bestWeights) = (initial, 0, StudentWeights.Read(student));
            var epochs = new List<DistillationEpoch>();
            var order = Enumerable.Range(0, trainingSet.Count).ToArray();
            for (var epoch = 1; epoch <= Options.Epochs && epoch - bestEpoch <= Math.Max(1, Options.Patience); epoch++)
            {
                var trainingLossMean = TrainEpoch(student, trainingSet, order, trainingLoss, optimizer, masks, mixup, shuffle, cancellation);
                schedule.step();
                // Palettes follow the weights once per epoch, before scoring: the holdout sees the palette these weights get.
                foreach (var (name, quantizer) in quantizers) quantizer.Refresh(student.Parameters[name]);
                var score = Evaluate(student, holdoutSet, holdoutLoss);
                epochs.Add(new DistillationEpoch(epoch, trainingLossMean, score.Loss, score.Agreement));
                progress?.Report(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch}/{Options.Epochs}: training loss {trainingLossMean:G4}, holdout loss {score.Loss:G4}, holdout agreement {score.Agreement:P2}, {clock.Elapsed.TotalSeconds:F1} s"));
                if (Improves(score, best)) (best, bestEpoch, bestWeights) = (score, epoch, StudentWeights.Read(student));
            }
            StudentWeights.Write(student, bestWeights);
            return new TrainingResult(bestWeights, epochs, bestEpoch, initial);
        }
        finally
        {
            foreach (var (name, quantizer) in quantizers)
            {
                student.SetWeightTransform(name, null);
                quantizer.Dispose();
            }
        }
    }

    /// <summary>The student's holdout score as it stands (its weight transforms applied).</summary>
    public HoldoutScore Evaluate(IStudent student, TrainingData holdout)
    {
        TorchRuntime.EnsureLoaded();
        using var holdoutSet = new BatchSource(holdout, student);
        return Evaluate(student, holdoutSet, new DistillationLoss(Metric, Options.Temperature, Options.LabelWeight, holdoutSet.TeacherOutputs));
    }

    private bool Improves(HoldoutScore score, HoldoutScore best)
    {
        if (Metric is MetricKind.Cosine or MetricKind.Mse || double.IsNaN(score.Agreement)) return score.Loss < best.Loss;
        return score.Agreement > best.Agreement || (score.Agreement == best.Agreement && score.Loss < best.Loss);
    }

    // One pass over the training set in a fresh shuffled order; returns the mean training loss.
    private double TrainEpoch(IStudent student, BatchSource data, int[] order, DistillationLoss loss, optim.Optimizer optimizer, WeightMasks masks,
        bool mixup, Random random, CancellationToken cancellation)
    {
        random.Shuffle(order);
        double lossSum = 0;
        for (var start = 0; start < order.Length; start += Options.BatchSize)
        {
            cancellation.ThrowIfCancellationRequested();
            var rows = order.AsSpan(start, Math.Min(Options.BatchSize, order.Length - start));
            lossSum += Step(student, data, rows, loss, optimizer, masks, mixup, random) * rows.Length;
        }
        return lossSum / order.Length;
    }

    // One optimizer step on the rows; returns the batch's loss. Every tensor made here is freed on return.
    private double Step(IStudent student, BatchSource data, ReadOnlySpan<int> rows, DistillationLoss loss, optim.Optimizer optimizer, WeightMasks masks, bool mixup, Random random)
    {
        using var scope = NewDisposeScope();
        var batch = data.Take(rows);
        if (mixup) batch = MixUp(student, batch, random);
        optimizer.zero_grad();
        var outputs = student.Forward(batch.Inputs);
        var value = loss.Total(outputs, batch.TeacherOutputs, batch.Labels);
        value.backward();
        masks.MaskGradients();
        optimizer.step();
        masks.ZeroPruned();
        return value.item<float>();
    }

    /// <summary>
    /// Convex mixes λ·x + (1 − λ)·x[π] of the batch with a shuffle of itself (Zhang et al. 2018), λ uniform in [0, 1] per
    /// batch, labelled by the teacher; the labels' term is dropped there (a mixed input has no class of its own).
    /// </summary>
    private Batch MixUp(IStudent student, Batch batch, Random random)
    {
        var lambda = random.NextDouble();
        var partners = Enumerable.Range(0, batch.Count).ToArray();
        random.Shuffle(partners);
        using var partnerIndex = tensor(partners.Select(p => (long)p).ToArray(), [partners.Length]);
        var mixed = batch.Inputs.ToDictionary(i => i.Key, i => HeldScalars.With(lambda, 1 - lambda,
            (own, partner) => HeldScalars.Plus(i.Value.mul(own), i.Value.index_select(0, partnerIndex).mul(partner))), StringComparer.Ordinal);
        var teacherOutputs = Teacher!(mixed.ToDictionary(m => m.Key, m => BatchSource.ToArray(m.Value), StringComparer.Ordinal));
        var outputs = student.OutputNames.Select(name => BatchSource.ToTensor(
            teacherOutputs.TryGetValue(name, out var output) ? output : throw new InvalidOperationException($"The teacher function returned no output '{name}'."), asFloat: true)).ToList();
        return new Batch(mixed, outputs, null, batch.Count);
    }

    private static HoldoutScore Evaluate(IStudent student, BatchSource holdout, DistillationLoss loss)
    {
        using var _ = no_grad();
        double lossSum = 0;
        long agreeing = 0, positions = 0;
        var rows = Enumerable.Range(0, holdout.Count).ToArray();
        const int evaluationBatch = 256;
        for (var start = 0; start < rows.Length; start += evaluationBatch)
        {
            using var scope = NewDisposeScope();
            var batch = holdout.Take(rows.AsSpan(start, Math.Min(evaluationBatch, rows.Length - start)));
            var outputs = student.Forward(batch.Inputs);
            lossSum += loss.Soft(outputs, batch.TeacherOutputs).item<float>() * batch.Count;
            for (var i = 0; i < outputs.Count; i++)
            {
                if (loss.Scores[i] == OutputScores.Values && (outputs[i].dim() < 1 || outputs[i].shape[^1] < 2)) continue;
                agreeing += outputs[i].argmax(-1).eq(batch.TeacherOutputs[i].argmax(-1)).sum().item<long>();
                positions += outputs[i].numel() / outputs[i].shape[^1];
            }
        }
        return new HoldoutScore(lossSum / holdout.Count, positions == 0 ? double.NaN : (double)agreeing / positions);
    }
}
