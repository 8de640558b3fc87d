using Google.Protobuf;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Statistics;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Acceptance;

/// <summary>The builder of the large acceptance model, checked on a small tower: what it states is what it builds.</summary>
public class ConvTowerModelTests
{
    private static readonly ConvTowerShape Small = new(InputChannels: 3, Size: 6, Width: 16, Blocks: 5, Classes: 10);

    [Fact]
    public void The_stated_parameter_count_and_cost_are_the_built_models()
    {
        var model = ConvTowerModel.Build(Small, seed: 3);
        var statistics = ModelStatistics.Of(model, new Dictionary<string, NdArray> { [ConvTowerModel.InputName] = ConvTowerModel.Inputs(Small, 1, seed: 1) });

        Assert.Equal(Small.ParameterCount, statistics.Parameters);
        Assert.Equal(Small.ParameterCount, model.Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d)));
        Assert.InRange(statistics.Flops, 2 * Small.MultiplyAddsPerSample, 2 * Small.MultiplyAddsPerSample * 21 / 20); // Relu, Add and pooling count little
        Assert.Equal(Small.Blocks / 2, model.Graph.Node.Count(n => n.OpType == "Add"));
    }

    [Fact]
    public void The_same_seed_gives_the_same_bytes_and_another_seed_other_weights()
    {
        var first = ConvTowerModel.Build(Small, seed: 3).ToByteArray();

        Assert.Equal(first, ConvTowerModel.Build(Small, seed: 3).ToByteArray());
        Assert.NotEqual(first, ConvTowerModel.Build(Small, seed: 4).ToByteArray());
    }

    [Fact]
    public void Scores_on_unseen_inputs_are_standardized_and_several_classes_win()
    {
        using var runner = new ModelRunner(ConvTowerModel.Build(Small, seed: 3), "tower");
        const int samples = 200;

        var scores = runner.Run(new Dictionary<string, NdArray> { [ConvTowerModel.InputName] = ConvTowerModel.Inputs(Small, samples, seed: 99) })[ConvTowerModel.OutputName].ToFloats();

        Assert.All(scores, v => Assert.True(float.IsFinite(v)));
        var std = Math.Sqrt(scores.Average(v => (double)v * v));
        Assert.InRange(std, 0.5, 2); // standardized on other inputs of the same distribution
        var winners = Enumerable.Range(0, samples).Select(s => scores.AsSpan(s * Small.Classes, Small.Classes).ToArray())
            .Select(row => Array.IndexOf(row, row.Max())).Distinct().Count();
        Assert.True(winners >= Small.Classes / 2, $"{winners} classes win");
    }
}
