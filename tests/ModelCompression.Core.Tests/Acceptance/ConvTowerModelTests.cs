using Google.Protobuf;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
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

    /// <summary>
    /// The large model's depth (45 blocks) at a small width: a real network this deep is residual and keeps int8 weights
    /// near-lossless, so the acceptance test's "beyond int8" is about the planner, not about a model that amplifies noise.
    /// </summary>
    [Theory]
    [InlineData(32)]
    public void Int8_weights_on_every_layer_of_a_tower_as_deep_as_the_large_one_keep_agreement_within_a_point(int width)
    {
        var shape = ConvTowerShape.HundredMegabytes with { Width = width };
        var model = ConvTowerModel.Build(shape, seed: 7);
        var quantized = model.Clone();
        new Int8WeightQuantization().Apply(quantized);
        var inputs = new Dictionary<string, NdArray> { [ConvTowerModel.InputName] = ConvTowerModel.Inputs(shape, 1000, seed: 13) };

        var agreement = Agreement(TopClasses(model, inputs, shape), TopClasses(quantized, inputs, shape));

        Assert.True(agreement >= 0.99, $"int8 weights agree with the original on {agreement:P1} of the samples");
    }

    private static int[] TopClasses(ModelProto model, Dictionary<string, NdArray> inputs, ConvTowerShape shape)
    {
        using var runner = new ModelRunner(model, "tower");
        var scores = runner.Run(inputs)[ConvTowerModel.OutputName].ToFloats();
        return Enumerable.Range(0, scores.Length / shape.Classes)
            .Select(s => scores.AsSpan(s * shape.Classes, shape.Classes).IndexOf(scores.AsSpan(s * shape.Classes, shape.Classes).ToArray().Max()))
            .ToArray();
    }

    private static double Agreement(int[] expected, int[] actual) => expected.Zip(actual).Count(p => p.First == p.Second) / (double)expected.Length;
}
