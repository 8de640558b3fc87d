using ModelCompression.Core.Distillation;
using ModelCompression.Core.Evaluation;
using ModelCompression.Distillation.Conversion;
using ModelCompression.Distillation.Training;

namespace ModelCompression.Distillation;

/// <summary>
/// The distillation package's <see cref="IDistiller"/>: converts the student graph to TorchSharp, trains it against the
/// teacher's outputs (<see cref="StudentTrainer"/>) and returns the best epoch's weights.
/// </summary>
public sealed class Distiller : IDistiller
{
    public DistillationResult Distill(DistillationJob job, IProgress<string> progress, CancellationToken cancellation)
    {
        if (!job.Training.CanBatch || !job.Holdout.CanBatch)
            return DistillationResult.Refused("its samples have different shapes, so they cannot be trained on in batches");
        var conversion = StudentConverter.TryConvert(job.Student, job.TrainedWeights);
        if (conversion.Student is not { } student) return DistillationResult.Refused(conversion.Refusal!);
        using (student)
        {
            // Mixed inputs are not in the teacher's cache: ONNX Runtime labels them as they come.
            using var teacher = job.Options.Mixup ? new ModelRunner(job.Teacher, "the original model", quiet: true) : null;
            var trainer = new StudentTrainer(job.Metric, job.Options) { Teacher = teacher is null ? null : inputs => teacher.Run(inputs) };
            var result = trainer.Train(student, TrainingData.From(job.Training, job.TeacherOutputs), TrainingData.From(job.Holdout, job.HoldoutTeacherOutputs),
                job.Quantized, progress, cancellation);
            return new DistillationResult(result.Weights, null, result.Epochs);
        }
    }
}
