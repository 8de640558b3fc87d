using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using static ModelCompression.Core.Tests.Passes.Palettization.PaletteTestKit;

namespace ModelCompression.Core.Tests.Passes.Palettization;

public class PassParametersTests
{
    [Fact]
    public void Per_node_maps_are_sorted_by_node_name_and_read_back()
    {
        var text = ParameterMap.Format(new Dictionary<string, int> { ["/7/Gemm"] = 4, ["/0/0.0/Conv"] = 6 });

        Assert.Equal("/0/0.0/Conv=6;/7/Gemm=4", text);
        Assert.Equal(new Dictionary<string, int> { ["/7/Gemm"] = 4, ["/0/0.0/Conv"] = 6 }, ParameterMap.ParseInts(text));
        Assert.Equal("a=0.75;b=0.5", ParameterMap.Format(new Dictionary<string, double> { ["b"] = 0.5, ["a"] = 0.75 }));
        Assert.Equal(0.75, ParameterMap.ParseFractions("a=0.75")["a"]);
        Assert.Equal("x=y", Assert.Single(ParameterMap.Parse("x=y=3")).Key); // the last '=' separates the value
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a=")]
    [InlineData("=4")]
    [InlineData("a=1;a=2")]
    public void Malformed_maps_are_refused(string text) =>
        Assert.Throws<FormatException>(() => ParameterMap.Parse(text));

    [Fact]
    public void A_palettization_step_round_trips_and_applies_the_same_rewrite()
    {
        var pass = new WeightPalettization(new Dictionary<string, int> { ["fc"] = 3, ["conv"] = 5 }, PaletteGranularity.PerChannelGroup, 8, PaletteTable.Float16);

        var parameters = pass.Parameters().ToDictionary();
        var again = WeightPalettization.FromParameters(parameters);

        Assert.Equal("conv=5;fc=3", parameters[PassParameters.Bits]);
        Assert.Equal(parameters, again.Parameters().ToDictionary());
        var (a, b) = (ConvGemmModel(), ConvGemmModel());
        pass.Apply(a);
        again.Apply(b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void Refitted_entries_round_trip_and_a_plan_without_them_keeps_the_k_means_entries()
    {
        var refitted = new WeightPalettization(new Dictionary<string, int> { ["fc"] = 3 }, PaletteGranularity.PerChannelGroup, rounding: Rounding.Hessian, refitEntries: true);
        var before = new WeightPalettization(new Dictionary<string, int> { ["fc"] = 3 }, PaletteGranularity.PerChannelGroup, rounding: Rounding.Hessian);

        Assert.Equal(PassParameters.RefittedEntries, refitted.Parameters().ToDictionary()[PassParameters.Entries]);
        Assert.Equal(refitted.Parameters().ToDictionary(), WeightPalettization.FromParameters(refitted.Parameters().ToDictionary()).Parameters().ToDictionary());
        Assert.DoesNotContain(PassParameters.Entries, before.Parameters().ToDictionary().Keys);
        Assert.Throws<FormatException>(() => WeightPalettization.FromParameters(new Dictionary<string, string> { [PassParameters.Entries] = "k-means" }));
    }

    [Fact]
    public void Pruning_steps_round_trip_per_layer_and_global()
    {
        var perLayer = new MagnitudePruning(SparsityTarget.Layers(new Dictionary<string, double> { ["fc"] = 0.75 }), new Dictionary<string, int> { ["fc"] = 4 });
        var global = new MagnitudePruning(SparsityTarget.Global(0.9, ["fc", "conv"]));

        foreach (var pass in new[] { perLayer, global })
            Assert.Equal(pass.Parameters().ToDictionary(), MagnitudePruning.FromParameters(pass.Parameters().ToDictionary()).Parameters().ToDictionary());
        Assert.Equal("fc=0.75", perLayer.Parameters().ToDictionary()[PassParameters.Sparsity]);
        Assert.Equal("conv;fc", global.Parameters().ToDictionary()[PassParameters.Nodes]);
        Assert.Throws<FormatException>(() => MagnitudePruning.FromParameters(new Dictionary<string, string>()));
        Assert.Throws<FormatException>(() => WeightPalettization.FromParameters(new Dictionary<string, string> { [PassParameters.Granularity] = "row" }));
    }
}
