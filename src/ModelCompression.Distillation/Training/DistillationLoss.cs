using ModelCompression.Core.Planning;
using ModelCompression.Distillation.Native;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelCompression.Distillation.Training;

/// <summary>How an output's values are compared with the teacher's.</summary>
public enum OutputScores
{
    /// <summary>Class scores before a softmax (class axis last).</summary>
    Logits,
    /// <summary>Class probabilities: non-negative, summing to 1 along the last axis (a Softmax ends the graph).</summary>
    Probabilities,
    /// <summary>Values compared as they are (cosine distance or MSE).</summary>
    Values,
}

/// <summary>
/// The distance between the student's and the teacher's outputs, averaged over the outputs. Class scores (metric
/// accuracy or agreement): the KL divergence from the teacher's to the student's distribution, both softened at
/// temperature T and scaled by T² so that the gradient's size does not depend on T (Hinton et al. 2015). With labels:
/// (1 − α) · that + α · the cross-entropy of the first output's (unsoftened) distribution with the labels. Other
/// metrics: cosine distance per sample (cosine), or the MSE divided by the teacher's variance (mse), so that the loss
/// reads as the metric does, whatever the outputs' scale.
/// </summary>
public sealed class DistillationLoss
{
    /// <summary>How far from 1 a row's sum may be for the output to count as probabilities (float32 softmax rounding).</summary>
    public const double ProbabilityTolerance = 1e-3;

    private readonly MetricKind _metric;
    private readonly double _temperature;
    private readonly double _labelWeight;
    private readonly IReadOnlyList<OutputScores> _scores;
    private readonly IReadOnlyList<double> _teacherVariances;

    /// <param name="teacherOutputs">The teacher's outputs on the whole set, in the student's output order.</param>
    public DistillationLoss(MetricKind metric, double temperature, double labelWeight, IReadOnlyList<Tensor> teacherOutputs)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be positive.");
        if (labelWeight is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(labelWeight), labelWeight, "The label weight is in [0, 1].");
        _metric = metric;
        _temperature = temperature;
        _labelWeight = labelWeight;
        _scores = teacherOutputs.Select(t => Classify(metric, t)).ToList();
        LabelClasses = _scores.Count > 0 && _scores[0] != OutputScores.Values && teacherOutputs[0].dim() == 2 ? teacherOutputs[0].shape[1] : 0;
        using (no_grad())
            _teacherVariances = teacherOutputs.Select(t => { using var v = t.var(); var variance = v.item<float>(); return variance > 0 ? variance : 1.0; }).ToList();
    }

    /// <summary>
    /// The first output's number of classes when labels can index it (class scores [N, C]); 0 otherwise (cosine or mse
    /// metric, or scores per position), and then labels are not used.
    /// </summary>
    public long LabelClasses { get; }

    /// <summary>How each output is compared, in the student's output order.</summary>
    public IReadOnlyList<OutputScores> Scores => _scores;

    /// <summary>Class scores for accuracy and agreement (class axis last, at least two classes), values otherwise.</summary>
    public static OutputScores Classify(MetricKind metric, Tensor teacherOutput)
    {
        if (metric is MetricKind.Cosine or MetricKind.Mse || teacherOutput.dim() < 2 || teacherOutput.shape[^1] < 2) return OutputScores.Values;
        return IsProbabilityDistribution(teacherOutput) ? OutputScores.Probabilities : OutputScores.Logits;
    }

    /// <summary>Every value is non-negative and every row along the last axis sums to 1.</summary>
    public static bool IsProbabilityDistribution(Tensor scores)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var zero = 0.ToScalar();
        if (scores.lt(zero).any().item<bool>()) return false;
        var rowSums = scores.to_type(ScalarType.Float64).sum(-1);
        return rowSums.sub(HeldScalars.One).abs().max().item<double>() <= ProbabilityTolerance;
    }

    /// <summary>The distillation term alone (what the holdout is scored by).</summary>
    public Tensor Soft(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        if (student.Count != _scores.Count || teacher.Count != _scores.Count)
            throw new ArgumentException($"Expected {_scores.Count} outputs, got {student.Count} from the student and {teacher.Count} from the teacher.");
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        for (var i = 0; i < _scores.Count; i++)
        {
            var term = Term(i, student[i], teacher[i]);
            sum = sum is null ? term : HeldScalars.Plus(sum, term);
        }
        return HeldScalars.With(_scores.Count, count => sum!.div(count)).MoveToOuterDisposeScope();
    }

    /// <summary>The training loss: <see cref="Soft"/>, mixed with the labels' cross-entropy when there are labels that index the first output (<see cref="LabelClasses"/>).</summary>
    /// <param name="labels">Class indices for the first output (int64, one per sample), or null.</param>
    public Tensor Total(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, Tensor? labels)
    {
        if (labels is null || _labelWeight == 0 || LabelClasses == 0) return Soft(student, teacher);
        using var scope = NewDisposeScope();
        var crossEntropy = F.nll_loss(LogProbabilities(student[0], _scores[0], 1), labels);
        var soft = Soft(student, teacher);
        var loss = HeldScalars.With(1 - _labelWeight, _labelWeight, (softWeight, labelWeight) => HeldScalars.Plus(soft.mul(softWeight), crossEntropy.mul(labelWeight)));
        return loss.MoveToOuterDisposeScope();
    }

    private Tensor Term(int output, Tensor student, Tensor teacher)
    {
        var scores = _scores[output];
        if (scores != OutputScores.Values)
        {
            // KL(p_teacher || p_student) per row (every position of every sample), mean over rows, times T².
            var classes = student.shape[^1];
            var logStudent = LogProbabilities(student.reshape(-1, classes), scores, _temperature);
            var logTeacher = LogProbabilities(teacher.reshape(-1, classes), scores, _temperature);
            var kl = (logTeacher.exp() * (logTeacher - logStudent)).sum(-1).mean();
            return HeldScalars.With(_temperature * _temperature, scale => kl.mul(scale));
        }
        var studentRows = student.reshape(student.shape[0], -1);
        var teacherRows = teacher.reshape(teacher.shape[0], -1);
        return _metric == MetricKind.Cosine
            ? HeldScalars.OneMinus(F.cosine_similarity(studentRows, teacherRows, dim: 1, eps: 1e-8)).mean()
            : HeldScalars.With(_teacherVariances[output], variance => HeldScalars.Squared(studentRows - teacherRows).mean().div(variance));
    }

    /// <summary>
    /// log softmax(z / T) of logits; of probabilities, the same through their logs (log p = z − logsumexp z, and a
    /// constant shift does not change a softmax), so a graph ending in Softmax softens exactly like one without.
    /// </summary>
    private static Tensor LogProbabilities(Tensor scores, OutputScores kind, double temperature)
    {
        var logits = kind == OutputScores.Probabilities ? HeldScalars.With(1e-30, floor => scores.clamp_min(floor)).log() : scores;
        return F.log_softmax(temperature == 1 ? logits : HeldScalars.With(temperature, t => logits.div(t)), -1);
    }
}
