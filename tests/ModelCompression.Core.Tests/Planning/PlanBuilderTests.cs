using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Registry;

namespace ModelCompression.Core.Tests.Planning;

/// <summary>Sketches become plans through the technique registry and come back unchanged.</summary>
public sealed class PlanBuilderTests
{
    private static readonly CompressionSpace Space = CompressionSpace.Of([], []);

    public static TheoryData<string> Sketches => new()
    {
        "a=int8;b=int4;c=fp16",
        "a=palette:3;b=rank:8+palette:4;c=sparse:0.75+palette:4",
        "a=rank:6+int8;b=rank:4+int4;c=palette:2;group:conv1=0.5",
        "group:conv1=0.25;group:conv2=0.5",
    };

    [Theory]
    [MemberData(nameof(Sketches))]
    public void A_sketch_built_into_a_plan_reads_back_the_same(string text)
    {
        var sketch = Parse(text);

        foreach (var knobs in new[] { QuantizationKnobs.Default, QuantizationKnobs.Default with { BiasCorrection = true, FoldFactors = true, Int4BlockSize = 128 } })
            Assert.Equal(sketch, PlanBuilder.SketchOf(PlanBuilder.Build(Plan.Empty, sketch, knobs, Space)));
    }

    [Fact]
    public void Steps_follow_the_stages_then_bias_correction_then_folding()
    {
        var sketch = Parse("a=rank:6+int8;b=palette:3;c=sparse:0.9+palette:4;d=fp16;e=int4;group:conv1=0.5");

        var plan = PlanBuilder.Build(Plan.Empty, sketch, QuantizationKnobs.Default with { BiasCorrection = true, FoldFactors = true }, Space);

        Assert.Equal(
            [PassCatalog.PruneChannels, PassCatalog.LowRank, PassCatalog.PruneWeights, PassCatalog.Int4Weights, PassCatalog.Palettize,
             PassCatalog.Int8Weights, PassCatalog.Fp16Weights, PassCatalog.BiasCorrection, PassCatalog.FoldFactors],
            plan.Steps.Select(s => s.Pass));
    }

    [Fact]
    public void Biases_of_compressed_layers_that_may_be_fp16_go_to_float16_last_a_factored_one_on_either_of_its_nodes()
    {
        var sketch = Parse("a=rank:6+int8;b=palette:3;c=fp16");
        var fp16 = new LayerSetting(WeightFormat.Fp16);
        var space = CompressionSpace.Of([new LayerSpace("a", "Gemm", 100, [fp16]), new LayerSpace("b", "Conv", 100, [])], []);

        var plan = PlanBuilder.Build(Plan.Empty, sketch, QuantizationKnobs.Default with { BiasCorrection = true, FoldFactors = true }, space);

        var last = plan.Steps[^1];
        Assert.Equal([PassCatalog.BiasCorrection, PassCatalog.FoldFactors, PassCatalog.Fp16Biases], plan.Steps.TakeLast(3).Select(s => s.Pass));
        Assert.Equal("a;a/lowrank/b", last.Parameter(PassCatalog.NodesParameter));
        Assert.DoesNotContain(PassCatalog.Fp16Biases, PlanBuilder.Build(Plan.Empty, sketch, QuantizationKnobs.Default, Space).Steps.Select(s => s.Pass));
    }

    [Fact]
    public void Every_technique_word_parses_to_its_flag_and_every_pass_has_one_factory()
    {
        foreach (var technique in TechniqueRegistry.All)
            Assert.True(Techniques.Parse(technique.Name, "model.onnx").HasFlag(technique.Flag), technique.Name);
        var passes = TechniqueRegistry.Passes.Select(p => p.Key).ToList();
        Assert.Equal(passes.Distinct().Count(), passes.Count);
        Assert.Equal(Technique.All, TechniqueRegistry.All.Aggregate(Technique.None, (all, t) => all | t.Flag));
    }

    // "node=setting;..." with settings like int8, palette:3, rank:8+palette:4, sparse:0.75+palette:4; "group:id=ratio" prunes channels.
    private static CompressionSketch Parse(string text)
    {
        var sketch = CompressionSketch.Unchanged;
        foreach (var entry in text.Split(';'))
        {
            var (key, value) = (entry[..entry.IndexOf('=')], entry[(entry.IndexOf('=') + 1)..]);
            if (key.StartsWith("group:", StringComparison.Ordinal))
            {
                sketch = sketch.WithPruning(key["group:".Length..], double.Parse(value, System.Globalization.CultureInfo.InvariantCulture));
                continue;
            }
            var setting = LayerSetting.Float;
            foreach (var part in value.Split('+'))
            {
                var (name, argument) = part.Contains(':') ? (part[..part.IndexOf(':')], part[(part.IndexOf(':') + 1)..]) : (part, "");
                setting = name switch
                {
                    "rank" => setting with { Rank = int.Parse(argument) },
                    "sparse" => setting with { Sparsity = double.Parse(argument, System.Globalization.CultureInfo.InvariantCulture) },
                    "palette" => setting with { Format = WeightFormat.Palette, Bits = int.Parse(argument) },
                    _ => setting with { Format = Enum.Parse<WeightFormat>(name, ignoreCase: true) },
                };
            }
            sketch = sketch.With(key, setting);
        }
        return sketch;
    }
}
