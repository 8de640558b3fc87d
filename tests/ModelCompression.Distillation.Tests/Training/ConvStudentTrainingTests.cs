using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Training;

namespace ModelCompression.Distillation.Tests.Training;

public sealed class ConvStudentTrainingTests
{
    [Fact]
    public void A_conv_student_with_per_pixel_class_scores_learns_its_teacher_through_int4_rounding()
    {
        var teacherWeights = ConvStudent.RandomWeights(channels: 6, classes: 5, seed: 11);
        using var teacher = new ConvStudent(teacherWeights);
        var random = new Random(12);
        TrainingData Data(int samples)
        {
            var feed = new Dictionary<string, NdArray> { [ConvStudent.Input] = MlpStudent.Normal(random, [samples, 1, 8, 8], 1) };
            return new TrainingData(feed, teacher.Run(feed));
        }
        var training = Data(256);
        var holdout = Data(64);
        var quantized = new Dictionary<string, WeightQuantization> { ["conv1.weight"] = new(4), ["conv2.weight"] = new(4) };
        // A student well off the teacher (as after an aggressive structural step), trained through int4 rounding.
        var noise = new Random(13);
        var start = teacherWeights.ToDictionary(w => w.Key, w => NdArray.Create<float>(w.Value.Shape,
            w.Value.AsSpan<float>().ToArray().Zip(MlpStudent.Normal(noise, w.Value.Shape.ToArray(), 0.15).AsSpan<float>().ToArray(), (a, b) => a + b).ToArray()));
        using var student = new ConvStudent(start);
        var trainer = new StudentTrainer(MetricKind.Agreement, new DistillationOptions(Epochs: 10, Patience: 4, BatchSize: 16, LearningRate: 3e-3, Temperature: 2));

        var result = trainer.Train(student, training, holdout, quantized, cancellation: TestContext.Current.CancellationToken);

        Assert.True(result.Best.Agreement > result.Initial.Agreement, $"{result.Best} vs untrained {result.Initial}: {string.Join(", ", result.Epochs)}");
        // Agreement counts every pixel: a fraction of 64 samples × 64 positions.
        Assert.Equal(result.Best.Agreement * 64 * 64, Math.Round(result.Best.Agreement * 64 * 64), 6);
        Assert.All(result.Weights, w => Assert.Equal(teacherWeights[w.Key].Shape.ToArray(), w.Value.Shape.ToArray()));
    }
}
