using ModelCompression.Core.Planning;
using ModelCompression.Distillation.Native;
using ModelCompression.Distillation.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ModelCompression.Distillation.Tests.Training;

public sealed class DistillationLossTests
{
    public DistillationLossTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData(1.0)]
    [InlineData(4.0)]
    public void Probabilities_soften_exactly_as_the_logits_they_came_from(double temperature)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        var teacherLogits = randn(32, 5, 7) * 3;
        var studentLogits = teacherLogits + randn(32, 5, 7);
        var teacherProbabilities = F.softmax(teacherLogits, -1);
        var studentProbabilities = F.softmax(studentLogits, -1);

        var onLogits = new DistillationLoss(MetricKind.Agreement, temperature, 0, [teacherLogits]);
        var onProbabilities = new DistillationLoss(MetricKind.Agreement, temperature, 0, [teacherProbabilities]);

        Assert.Equal([OutputScores.Logits], onLogits.Scores);
        Assert.Equal([OutputScores.Probabilities], onProbabilities.Scores);
        var fromLogits = onLogits.Soft([studentLogits], [teacherLogits]).item<float>();
        var fromProbabilities = onProbabilities.Soft([studentProbabilities], [teacherProbabilities]).item<float>();
        Assert.True(fromLogits > 0);
        Assert.Equal(fromLogits, fromProbabilities, fromLogits * 1e-4);
        Assert.Equal(0, onLogits.Soft([teacherLogits], [teacherLogits]).item<float>(), 6);
    }

    [Fact]
    public void The_soft_loss_is_the_kl_divergence_at_temperature_t_times_t_squared()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(2);
        var teacher = randn(16, 10);
        var student = randn(16, 10);
        const double t = 3;
        var expected = F.kl_div(F.log_softmax(student / t, -1), F.log_softmax(teacher / t, -1), reduction: nn.Reduction.None, log_target: true)
            .sum(-1).mean().item<float>() * t * t;

        var loss = new DistillationLoss(MetricKind.Accuracy, t, 0, [teacher]).Soft([student], [teacher]).item<float>();

        Assert.Equal(expected, loss, expected * 1e-5);
    }

    [Fact]
    public void Labels_mix_in_their_cross_entropy_with_weight_alpha()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var teacher = randn(16, 10);
        var student = randn(16, 10);
        var labels = randint(0, 10, [16], dtype: ScalarType.Int64);
        const double alpha = 0.3;
        var loss = new DistillationLoss(MetricKind.Accuracy, 2, alpha, [teacher]);

        var soft = loss.Soft([student], [teacher]).item<float>();
        var crossEntropy = F.cross_entropy(student, labels).item<float>();
        var total = loss.Total([student], [teacher], labels).item<float>();

        Assert.Equal((1 - alpha) * soft + alpha * crossEntropy, total, 1e-5);
        Assert.Equal(soft, loss.Total([student], [teacher], null).item<float>());
    }

    [Fact]
    public void Scores_that_are_not_distributions_are_logits()
    {
        using var scope = NewDisposeScope();
        Assert.False(DistillationLoss.IsProbabilityDistribution(tensor(new[] { 0.2f, 0.3f, 0.4f }, [1, 3])));    // sums to 0.9
        Assert.False(DistillationLoss.IsProbabilityDistribution(tensor(new[] { -0.2f, 0.8f, 0.4f }, [1, 3])));   // a negative
        Assert.True(DistillationLoss.IsProbabilityDistribution(tensor(new[] { 0.2f, 0.3f, 0.5f, 1f, 0f, 0f }, [2, 3])));
    }

    [Theory]
    [InlineData(MetricKind.Cosine)]
    [InlineData(MetricKind.Mse)]
    public void Cosine_and_mse_compare_values_and_vanish_at_the_teacher(MetricKind metric)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        var teacher = randn(8, 3, 4) * 5;
        var loss = new DistillationLoss(metric, 4, 0.3, [teacher]);

        Assert.Equal([OutputScores.Values], loss.Scores);
        Assert.Equal(0, loss.Soft([teacher], [teacher]).item<float>(), 5);
        var scaled = loss.Soft([teacher * 2], [teacher]).item<float>();
        if (metric == MetricKind.Cosine) Assert.Equal(0, scaled, 5); // cosine ignores scale
        else Assert.Equal(teacher.square().mean().item<float>() / teacher.var().item<float>(), scaled, 5); // MSE of 2t vs t over var(t)
        Assert.True(loss.Soft([teacher + randn(8, 3, 4) * 5], [teacher]).item<float>() > 0.1);
    }
}
