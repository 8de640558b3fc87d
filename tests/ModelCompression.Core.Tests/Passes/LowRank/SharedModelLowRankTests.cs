using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Statistics;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.LowRank;

/// <summary>Low-rank factorization of fashion-cnn's 3136×256 Gemm, measured on its 10,000 validation images.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelLowRankTests
{
    private const string Gemm = "/7/Gemm";

    [Fact]
    public void Fashion_cnn_keeps_its_accuracy_with_its_big_gemm_at_a_small_rank()
    {
        var folder = SharedModels.Folder("fashion-cnn");
        var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless);
        var validation = SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original);
        var reference = Reference.Measure(original, "fashion-cnn", validation, MetricKind.Accuracy);
        var sample = validation.Sample(0);
        var baseline = ModelStatistics.Of(original, sample);
        var spectrum = LowRankFactorization.Spectra(lossless)[Gemm];
        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine($"{Gemm}: {spectrum.Rows}×{spectrum.Columns}, rank for 90/95/99% energy: " +
                          $"{spectrum.RankForEnergy(0.90)}/{spectrum.RankForEnergy(0.95)}/{spectrum.RankForEnergy(0.99)}");
        output?.WriteLine("| rank | energy | size | parameters | FLOPs | accuracy |");
        output?.WriteLine($"| (original) | 1 | {OnnxModelFile.SizeOf(original):N0} | {baseline.Parameters:N0} | {baseline.Flops:N0} | {reference.Score:P2} |");

        var results = new List<(int Rank, long Size, double Accuracy)>();
        foreach (var rank in new[] { 8, 16, 32, 64 })
        {
            var factored = lossless.Clone();
            Assert.Equal(1, new LowRankFactorization(new Dictionary<string, int> { [Gemm] = rank }).Apply(factored));
            OnnxStructure.Validate(factored, $"rank {rank}");
            var accuracy = reference.Evaluate(factored, $"rank {rank}");
            var statistics = ModelStatistics.Of(factored, sample);
            results.Add((rank, OnnxModelFile.SizeOf(factored), accuracy));
            output?.WriteLine($"| {rank} | {spectrum.RetainedEnergy(rank):F3} | {OnnxModelFile.SizeOf(factored):N0} | {statistics.Parameters:N0} | {statistics.Flops:N0} | {accuracy:P2} |");
            Assert.Equal(baseline.Parameters - 3136 * 256 + rank * (3136 + 256), statistics.Parameters);
        }

        Assert.True(results.Zip(results.Skip(1)).All(p => p.First.Size < p.Second.Size), "a smaller rank makes a smaller file");
        Assert.True(results[^1].Accuracy >= reference.Score - 0.01, $"rank 64: {results[^1].Accuracy:P2} against {reference.Score:P2}");
        Assert.True(results[0].Accuracy < results[^1].Accuracy, "rank 8 loses more than rank 64");
    }
}
