using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.DataAware;

public sealed class RoundingPlanTests
{
    private static readonly ModelProto Model = TestModels.Mlp(64, 96, 10, seed: 3);
    private static readonly CompressionSpace Space = CompressionSpace.Find(Model, Technique.All);

    public static TheoryData<string, string> Sketches => new()
    {
        { "int8 (GPTQ)", "int4 (GPTQ)" },
        { "rank 8 (whitened) + int4 (GPTQ)", "palette 3-bit (Hessian-weighted)" },
        { "rank 8 (whitened) + palette 4-bit (Hessian-weighted)", "int8" },
        { "rank 8 + int8", "palette 3-bit (Hessian-weighted)" },
    };

    [Theory]
    [MemberData(nameof(Sketches))]
    public void A_sketch_with_hessian_rounding_survives_a_plan_round_trip(string layerA, string layerB)
    {
        var sketch = CompressionSketch.Unchanged.With("layer_a", Parse(layerA)).With("layer_b", Parse(layerB));
        Assert.Equal((layerA, layerB), (sketch.SettingOf("layer_a").ToString(), sketch.SettingOf("layer_b").ToString()));

        foreach (var knobs in new[] { QuantizationKnobs.Default, new QuantizationKnobs(Int8Form.Static) })
        {
            var plan = PlanBuilder.Build(Plan.Empty, sketch, knobs, Space);
            Assert.Equal(sketch, PlanBuilder.SketchOf(plan));
            Assert.All(plan.Steps.Where(s => s.Parameter(PassCatalog.RoundingParameter) is not null), s => Assert.Equal("hessian", s.Parameter(PassCatalog.RoundingParameter)));
        }
    }

    [Fact]
    public void Hessian_int8_is_stored_weight_only_and_nearest_plans_carry_no_rounding_parameter()
    {
        var hessian = CompressionSketch.Unchanged.With("layer_a", new LayerSetting(WeightFormat.Int8, Rounding: Rounding.Hessian));
        var nearest = CompressionSketch.Unchanged.With("layer_a", new LayerSetting(WeightFormat.Int8, Rank: 8)).With("layer_b", new LayerSetting(WeightFormat.Palette, 4));
        var knobs = new QuantizationKnobs(Int8Form.Static);

        Assert.Equal("int8-weights(nodes=layer_a, rounding=hessian) → fp16-biases(nodes=layer_a)", PlanBuilder.Build(Plan.Empty, hessian, knobs, Space).ToString());
        Assert.DoesNotContain(PassCatalog.RoundingParameter, PlanBuilder.Build(Plan.Empty, nearest, knobs, Space).ToString(), StringComparison.Ordinal);
    }

    // The settings of the theory by their ToString.
    private static LayerSetting Parse(string text)
    {
        var rounding = text.Contains('(', StringComparison.Ordinal) ? Rounding.Hessian : Rounding.Nearest;
        var rank = text.StartsWith("rank 8", StringComparison.Ordinal) ? 8 : 0;
        var format = text[(text.LastIndexOf('+') + 1)..].Trim();
        return format switch
        {
            _ when format.StartsWith("int8", StringComparison.Ordinal) => new LayerSetting(WeightFormat.Int8, Rank: rank, Rounding: rounding),
            _ when format.StartsWith("int4", StringComparison.Ordinal) => new LayerSetting(WeightFormat.Int4, Rank: rank, Rounding: rounding),
            _ => new LayerSetting(WeightFormat.Palette, format[8] - '0', rank, Rounding: rounding),
        };
    }
}
