using ModelCompression.Core.Distillation;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Tests.Distillation;

public sealed class DistillationSearchTests
{
    private static SettingProbe Layer(string unit, LayerSetting setting, long bytes) => new(UnitKind.Layer, unit, "Gemm", setting, 0, bytes, 0.01, Predicted: true);

    private static SettingProbe Channels(string group, double ratio, long bytes) => new(UnitKind.Channels, group, "channels", null, ratio, bytes, 0.01);

    private static readonly LayerSetting Palette4 = new(WeightFormat.Palette, Bits: 4);
    private static readonly LayerSetting Palette3 = new(WeightFormat.Palette, Bits: 3);
    private static readonly LayerSetting Palette3Hessian = new(WeightFormat.Palette, Bits: 3, Rounding: Rounding.Hessian);
    private static readonly LayerSetting Palette2 = new(WeightFormat.Palette, Bits: 2);
    private static readonly LayerSetting Int4 = new(WeightFormat.Int4);

    private static readonly IReadOnlyList<SettingProbe> Probes =
    [
        Layer("fc1", new LayerSetting(WeightFormat.Int8), -100), Layer("fc1", Palette4, -120), Layer("fc1", Palette3, -130),
        Layer("fc1", Palette3Hessian, -130), Layer("fc1", Int4, -135), Layer("fc1", Palette2, -140),
        Channels("fc1", 0.25, -50), Channels("fc1", 0.5, -100),
    ];

    [Fact]
    public void Each_rung_stores_less_in_the_winners_formats_data_aware_where_offered()
    {
        var winner = CompressionSketch.Unchanged.With("fc1", Palette4);

        var one = DistillationSearch.MoreAggressive(winner, Probes, 1);
        var two = DistillationSearch.MoreAggressive(winner, Probes, 2);
        var many = DistillationSearch.MoreAggressive(winner, Probes, 10);

        // int4 saves more than 3-bit palettes but is not a format the winner uses; 3-bit's two roundings are one rung.
        Assert.Equal(Palette3Hessian, one.SettingOf("fc1"));
        Assert.Equal(0.25, one.Pruning["fc1"]);
        Assert.Equal(Palette2, two.SettingOf("fc1"));
        Assert.Equal(0.5, two.Pruning["fc1"]);
        Assert.Equal(two, many);
    }

    [Fact]
    public void A_unit_already_at_its_last_rung_stays_there()
    {
        var winner = CompressionSketch.Unchanged.With("fc1", Palette2).WithPruning("fc1", 0.5);
        Assert.Equal(winner, DistillationSearch.MoreAggressive(winner, Probes, 1));
    }

    [Theory]
    [InlineData(1257, 100)] // digits-mlp: 20 batches an epoch
    [InlineData(20000, 7)] // fashion-cnn: 313 batches an epoch
    [InlineData(10, 100)]
    [InlineData(1_000_000, 4)]
    public void Small_training_sets_get_more_epochs_for_about_the_same_number_of_steps(int samples, int epochs)
    {
        var options = DistillationOptions.For(samples);
        Assert.Equal(epochs, options.Epochs);
        Assert.Equal(Math.Max(2, epochs / 4), options.Patience);
    }
}
