using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Distillation;

/// <summary>
/// Fine-tunes a compressed model against the original (knowledge distillation). Implemented by the
/// ModelCompression.Build.Distillation package, which the worker loads only when it distils; Core never references libtorch.
/// </summary>
public interface IDistiller
{
    /// <summary>
    /// Trains <see cref="DistillationJob.TrainedWeights"/> of the student; returns the trained values, or a refusal
    /// naming why this student cannot be trained (e.g. operators the converter does not cover). Deterministic for a
    /// given job on one machine.
    /// </summary>
    DistillationResult Distill(DistillationJob job, IProgress<string> progress, CancellationToken cancellation);
}

/// <summary>What to train and on what.</summary>
/// <param name="Teacher">The original model, whose outputs <paramref name="TeacherOutputs"/> holds, for inputs not in them (mixup).</param>
/// <param name="Student">The model with the plan's structural steps applied (float weights, zeros where pruned).</param>
/// <param name="Training">Training inputs, with <c>labels</c> when the data has them. Never the validation data.</param>
/// <param name="TeacherOutputs">The original model's outputs on every training sample, by output name: float32, the batch axis
/// first, then the output's shape for one sample (<see cref="Distillation.TeacherOutputs"/>).</param>
/// <param name="Holdout">Samples held out of training (the search split) for early stopping, and the teacher's outputs on them.</param>
/// <param name="TrainedWeights">Initializers trained as parameters; every other initializer stays fixed.</param>
/// <param name="Quantized">Trained weights that a later plan step quantizes or palettizes: they train through fake quantization.</param>
public sealed record DistillationJob(
    ModelProto Teacher,
    ModelProto Student,
    SampleSet Training,
    IReadOnlyDictionary<string, NdArray> TeacherOutputs,
    SampleSet Holdout,
    IReadOnlyDictionary<string, NdArray> HoldoutTeacherOutputs,
    IReadOnlyList<string> TrainedWeights,
    IReadOnlyDictionary<string, WeightQuantization> Quantized,
    MetricKind Metric,
    DistillationOptions Options);

/// <summary>How a weight is stored after the plan's later steps, so that training sees the same rounding (straight-through).</summary>
/// <param name="Bits">8 or 4 for integer quantization (symmetric, per output channel, or per block along the input axis when <paramref name="BlockSize"/> is set); 0 for a palette.</param>
/// <param name="BlockSize">Block length along the input axis for block-wise int4; 0 for per-channel.</param>
/// <param name="PaletteSize">Number of palette entries (k-means centroids) for a palettized weight; 0 otherwise.</param>
/// <param name="ChannelAxis">The weight's output-channel axis (one scale per slice): 0 for Conv [O, I, k…] and Gemm with transB,
/// 1 for Gemm without transB and MatMul [K, N] (as <c>QuantizableWeight.ChannelAxis</c>). Blocks run along the other axes.</param>
public sealed record WeightQuantization(int Bits, int BlockSize = 0, int PaletteSize = 0, int ChannelAxis = 0);

/// <summary>Training knobs; the defaults are what the planner uses.</summary>
/// <param name="Epochs">Passes over the training data at most.</param>
/// <param name="Patience">Epochs without improvement on the holdout before stopping early.</param>
/// <param name="Temperature">Softening of class scores (Hinton et al. 2015); the soft loss is scaled by T².</param>
/// <param name="LabelWeight">Weight α of the cross-entropy on labels, where the training data has them.</param>
/// <param name="Mixup">Mix pairs of training inputs (the teacher labels any input), for small training sets.</param>
public sealed record DistillationOptions(
    int Epochs = 4,
    int Patience = 2,
    int BatchSize = 64,
    double LearningRate = 1e-3,
    double Temperature = 4,
    double LabelWeight = 0.3,
    bool Mixup = false,
    int Seed = 1)
{
    /// <summary>Optimizer steps a distillation aims for: small training sets get more epochs (digits-mlp's 1,257 samples, 20 batches, need dozens; fashion-cnn's 20,000 take 7).</summary>
    public const int TargetSteps = 2000;

    public const int MaxEpochs = 100;

    /// <summary>Training sets smaller than this are mixed up: a few thousand samples are learnt by heart long before 4,000 steps.</summary>
    public const int MixupBelow = 5000;

    /// <summary>
    /// The planner's options for <paramref name="trainingSamples"/>: about <see cref="TargetSteps"/> steps, at least the
    /// default epochs, patience half of them (the rate decays over all of them, so late epochs still improve); mixup for
    /// small sets.
    /// </summary>
    public static DistillationOptions For(int trainingSamples)
    {
        var defaults = new DistillationOptions();
        var batches = Math.Max(1, (trainingSamples + defaults.BatchSize - 1) / defaults.BatchSize);
        var epochs = Math.Clamp((TargetSteps + batches - 1) / batches, defaults.Epochs, MaxEpochs);
        return defaults with { Epochs = epochs, Patience = Math.Max(defaults.Patience, epochs / 2), Mixup = trainingSamples < MixupBelow };
    }
}

/// <summary>The trained weights by initializer name (same shapes as in the student), or why training was refused.</summary>
public sealed record DistillationResult(IReadOnlyDictionary<string, NdArray>? Weights, string? Refusal, IReadOnlyList<DistillationEpoch> Epochs)
{
    public static DistillationResult Refused(string reason) => new(null, reason, []);
}

/// <summary>One epoch's losses, for the build output and the report.</summary>
public sealed record DistillationEpoch(int Epoch, double TrainingLoss, double HoldoutLoss, double HoldoutAgreement);
