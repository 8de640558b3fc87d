using ModelCompression.Testing;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Prediction;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tests.Planning.Fakes;

namespace ModelCompression.Core.Tests.Planning;

/// <summary>The search against a fake measurer: what it chooses, what it measures, and that counts bound it.</summary>
public sealed class CompressionPlannerTests
{
    private static readonly LayerSetting[] Settings =
    [
        new(WeightFormat.Fp16), new(WeightFormat.Int8), new(WeightFormat.Int4),
        new(WeightFormat.Palette, 4), new(WeightFormat.Palette, 3), new(WeightFormat.Palette, 2),
    ];

    // A layer's relative output error at a setting: each bit less roughly quadruples it.
    private static double Error(string node, LayerSetting setting) => setting.AssumedLossless ? 0 : Math.Pow(4, -setting.NominalBits) * 4;

    private static CompressionSpace Space(params (string Node, long Parameters)[] layers) =>
        CompressionSpace.Of(layers.Select(l => new LayerSpace(l.Node, "Gemm", l.Parameters, Settings)).ToList(), []);

    // The four layers with only the given settings, every layer one static int8 can take.
    private static CompressionSpace StaticInt8Space(LayerSetting[] settings) =>
        CompressionSpace.Of(FourLayers().Layers.Select(l => l with { Settings = settings }).ToList(), [], FourLayers().Layers.Select(l => l.Node));

    private static LayerErrors Errors(CompressionSpace space) =>
        new(space.Layers.SelectMany(l => l.Settings.Select(s => KeyValuePair.Create((l.Node, s), Error(l.Node, s)))));

    private static PlannerResult Plan(
        CompressionSpace space, FakeMeasurer measurer, double budget = 0.01, SearchLimits? limits = null, QuantizationKnobs? defaults = null, TimeSpan? maxLatency = null) =>
        new CompressionPlanner(measurer, Plan0, space, new Budgets(budget, null, maxLatency), limits ?? SearchLimits.Default,
            new SearchProgress(new RecordingLog(), "accuracy"), Errors(space), defaults: defaults).Run();

    private static readonly Core.Planning.Plan Plan0 = Core.Planning.Plan.Empty;

    private static readonly Dictionary<string, double> Coefficients = new(StringComparer.Ordinal)
    {
        ["big"] = 0.2, ["sensitive"] = 3, ["middle"] = 0.5, ["small"] = 1,
    };

    private static CompressionSpace FourLayers() => Space(("big", 400_000), ("sensitive", 100_000), ("middle", 50_000), ("small", 5_000));

    [Fact]
    public void Chooses_a_combination_within_the_budget_close_to_the_smallest_one_possible()
    {
        var space = FourLayers();
        var measurer = new FakeMeasurer(space, Coefficients, Error);

        var result = Plan(space, measurer);

        var chosen = result.Solution;
        Assert.True(measurer.DropOf(chosen) <= 0.01, $"{chosen.Describe(QuantizationKnobs.Default, 4)} drops {measurer.DropOf(chosen)}");
        var optimum = AllSketches(space).Where(s => measurer.DropOf(s) <= 0.01).Min(measurer.SizeOf);
        Assert.True(measurer.SizeOf(chosen) <= optimum * 1.1, $"{measurer.SizeOf(chosen)} B against the best {optimum} B");
        Assert.NotEqual(new LayerSetting(WeightFormat.Palette, 2), chosen.SettingOf("sensitive"));
    }

    [Fact]
    public void Predicts_every_option_and_measures_one_option_per_layer_alone()
    {
        var space = FourLayers();

        var result = Plan(space, new FakeMeasurer(space, Coefficients, Error));

        Assert.Equal(space.Layers.Sum(l => l.Settings.Count), result.OptionsPredicted);
        Assert.Equal(space.Layers.Count, result.OptionsMeasured);
        Assert.Equal(space.Layers.Count, result.Probes.Where(p => !p.Predicted).Select(p => p.Unit).Distinct().Count());
    }

    [Fact]
    public void The_same_inputs_give_the_same_plan_after_the_same_measurements()
    {
        var space = FourLayers();
        var first = new FakeMeasurer(space, Coefficients, Error);
        var second = new FakeMeasurer(space, Coefficients, Error);

        var a = Plan(space, first);
        var b = Plan(space, second);

        Assert.Equal(a.Solution, b.Solution);
        Assert.Equal(first.Measured, second.Measured);
    }

    [Fact]
    public void Counts_bound_the_work_however_many_layers_there_are()
    {
        var space = Space(Enumerable.Range(0, 200).Select(i => ($"layer{i:000}", 10_000L + i)).ToArray());
        var coefficients = space.Layers.ToDictionary(l => l.Node, l => 0.5, StringComparer.Ordinal);
        var measurer = new FakeMeasurer(space, coefficients, Error);
        var limits = SearchLimits.Default with { MaxCalibrationProbes = 16, MaxSolveRounds = 4 };

        var result = Plan(space, measurer, limits: limits);

        Assert.Equal(16, result.OptionsMeasured);
        Assert.Equal(space.Layers.Count * Settings.Length, result.OptionsPredicted);
        // Lossless, then per family: its smallest sketch, the solve rounds (each with bias correction and folded
        // factors at most), the knob variants and the bias-correction flip.
        var families = 2;
        Assert.InRange(measurer.Evaluations, 1, 1 + 16 + families * (1 + limits.MaxSolveRounds * 3 + 8));
        Assert.False(result.TimedOut);
    }

    [Fact]
    public void Drops_that_add_up_worse_than_predicted_make_it_tighten_until_a_combination_holds()
    {
        var space = FourLayers();
        var measurer = new FakeMeasurer(space, Coefficients, Error) { Interaction = 60 };

        var result = Plan(space, measurer);

        Assert.True(measurer.DropOf(result.Solution) <= 0.01, $"drops {measurer.DropOf(result.Solution)}");
        Assert.True(measurer.SizeOf(result.Solution) < space.Layers.Sum(l => l.Parameters), "nothing was compressed below int8");
    }

    [Fact]
    public void The_search_time_is_only_a_safety_net_that_says_when_it_fired()
    {
        var space = FourLayers();
        var measurer = new FakeMeasurer(space, Coefficients, Error);

        var result = Plan(space, measurer, limits: SearchLimits.Default with { MaxSearchTime = TimeSpan.Zero });

        Assert.True(result.TimedOut);
        Assert.Single(result.Candidates);
    }

    [Theory]
    [InlineData(false)] // int8 everywhere is accurate enough: the smallest combination, too slow as it is
    [InlineData(true)]  // 2-bit palettes everywhere are not: the knapsack's combination, too slow as it is
    public void A_latency_budget_that_only_quantized_activations_meet_is_met_with_them(bool palettes)
    {
        var space = StaticInt8Space(palettes ? [new(WeightFormat.Int8), new(WeightFormat.Palette, 2)] : [new(WeightFormat.Int8)]);
        // Weight-only forms run at the original's speed; int8 with static activations on integer kernels, at 0.6 of it.
        static bool HasStaticInt8(Core.Planning.Plan plan) => plan.Steps.Any(s => s.Pass == PassCatalog.Int8Static);
        var measurer = new FakeMeasurer(space, Coefficients, Error) { LatencyRatioOf = plan => HasStaticInt8(plan) ? 0.6 : 1 };

        var result = Plan(space, measurer, maxLatency: TimeSpan.FromMilliseconds(0.8));

        var holding = result.Candidates.Where(c => c.Search.Drop <= 0.01 && c.Latency.Candidate <= TimeSpan.FromMilliseconds(0.8)).ToList();
        Assert.NotEmpty(holding);
        Assert.All(holding, c => Assert.True(HasStaticInt8(c.Plan), c.Plan.ToString()));
        Assert.Contains(WeightFormat.Int8, result.Solution.Layers.Values.Select(l => l.Format));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Every_bias_correction_the_search_measures_uses_the_method_it_was_given(bool analytic)
    {
        var space = FourLayers();
        var measurer = new FakeMeasurer(space, Coefficients, Error) { Interaction = 60 };

        var result = Plan(space, measurer, defaults: QuantizationKnobs.Default with { AnalyticCorrection = analytic });

        var corrections = result.Candidates.SelectMany(c => c.Plan.Steps).Where(s => s.Pass == PassCatalog.BiasCorrection).ToList();
        Assert.NotEmpty(corrections);
        Assert.All(corrections, s => Assert.Equal(analytic ? "analytic" : null, s.Parameter(PassCatalog.MethodParameter)));
    }

    [Fact]
    public void Bias_correction_is_analytic_when_measuring_it_would_cost_more_multiply_adds_than_the_limit()
    {
        var limits = SearchLimits.Default with { MaxEmpiricalCorrectionWork = 1000 };

        Assert.False(limits.CorrectsAnalytically(layers: 10, multiplyAdds: 10, samples: 10));
        Assert.True(limits.CorrectsAnalytically(layers: 10, multiplyAdds: 10, samples: 11));
        // The corpus: fashion-cnn's 6 layers (38M multiply-adds, 512 samples) measured, ppocr-rec's 47 (1.4G, 64) analytic.
        Assert.False(SearchLimits.Default.CorrectsAnalytically(6, 38_200_000, 512));
        Assert.True(SearchLimits.Default.CorrectsAnalytically(47, 1_404_938_880, 64));
    }

    [Fact]
    public void Models_that_cost_more_to_run_get_fewer_options_measured_alone_in_proportion()
    {
        var limits = SearchLimits.Default with { MaxCalibrationProbes = 60, MaxPruningProbes = 40, MaxProbeWork = 100_000 };

        Assert.Equal(limits, limits.ForModel(multiplyAdds: 10, samples: 100));
        var quarter = limits.ForModel(multiplyAdds: 40, samples: 100);
        Assert.Equal((15, 10), (quarter.MaxCalibrationProbes, quarter.MaxPruningProbes));
        var huge = limits.ForModel(multiplyAdds: long.MaxValue / 1000, samples: 100);
        Assert.Equal((1, 1), (huge.MaxCalibrationProbes, huge.MaxPruningProbes));
        Assert.Equal(limits.MaxSolveRounds, huge.MaxSolveRounds);
    }

    private static IEnumerable<CompressionSketch> AllSketches(CompressionSpace space)
    {
        IEnumerable<CompressionSketch> sketches = [CompressionSketch.Unchanged];
        foreach (var layer in space.Layers)
        {
            var options = new[] { LayerSetting.Float }.Concat(layer.Settings).ToList();
            sketches = sketches.SelectMany(s => options.Select(o => s.With(layer.Node, o))).ToList();
        }
        return sketches;
    }
}
