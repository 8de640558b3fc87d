using ModelCompression.Core.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Distillation.Training;
using TorchSharp;

namespace ModelCompression.Distillation.Tests.Training;

public sealed class TrainingMemoryTests
{
    [Fact]
    public void Training_leaves_no_tensor_alive_however_many_batches_it_runs()
    {
        var scenario = new Scenario(trainingSamples: 640, holdoutSamples: 64);
        var quantized = new Dictionary<string, WeightQuantization> { ["fc1.weight"] = new(4, BlockSize: 16), ["fc2.weight"] = new(0, PaletteSize: 4) };

        long LiveTensorsAdded(int batchSize)
        {
            using var student = scenario.Student(scenario.Perturbed(0.1));
            var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            new StudentTrainer(MetricKind.Agreement, new DistillationOptions(Epochs: 2, Patience: 2, BatchSize: batchSize, Mixup: true)) { Teacher = scenario.Teacher.Run }
                .Train(student, scenario.Training, scenario.Holdout, quantized, cancellation: TestContext.Current.CancellationToken);
            return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
        }

        // The statistic counts live tensors (so the comparison below can fail).
        var baseline = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (torch.zeros(1)) Assert.Equal(baseline + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);

        var few = LiveTensorsAdded(batchSize: 320);  // 2 batches an epoch
        var many = LiveTensorsAdded(batchSize: 16);  // 40 batches an epoch
        Assert.Equal(few, many);
        Assert.Equal(0, many);
    }
}
