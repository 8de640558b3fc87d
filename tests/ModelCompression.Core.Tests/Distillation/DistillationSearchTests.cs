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
    public void The_ladder_moves_one_unit_one_rung_at_a_time_largest_saving_first_in_the_winners_formats_data_aware_where_offered()
    {
        var winner = CompressionSketch.Unchanged.With("fc1", Palette4);

        var (ladder, fullRung) = DistillationSearch.Ladder(winner, Probes, maxRungs: 3);

        // int4 saves more than 3-bit palettes but is not a format the winner uses; 3-bit's two roundings are one rung.
        Assert.Equal(winner, ladder[0]);
        Assert.Equal(
        [
            winner.WithPruning("fc1", 0.25),                                   // saves 50
            winner.WithPruning("fc1", 0.25).With("fc1", Palette3Hessian),      // saves 10
            winner.WithPruning("fc1", 0.5).With("fc1", Palette3Hessian),       // 50 more
            winner.WithPruning("fc1", 0.5).With("fc1", Palette2),              // 20 more
        ], ladder.Skip(1));
        Assert.Equal(2, fullRung);
    }

    [Fact]
    public void A_winner_at_every_units_last_rung_has_no_ladder_below_it()
    {
        var winner = CompressionSketch.Unchanged.With("fc1", Palette2).WithPruning("fc1", 0.5);
        Assert.Equal([winner], DistillationSearch.Ladder(winner, Probes, maxRungs: 3).Sketches);
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
        Assert.Equal(Math.Max(2, epochs / 2), options.Patience);
    }
}
