using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;

namespace ModelCompression.PaletteBench;

/// <summary>Magnitude pruning of fashion-cnn's 3136×256 Gemm (92 % of its weights), alone and with palette-coded non-zeros.</summary>
internal static class Pruning
{
    private const string BigGemm = "/7/Gemm";

    public static void Run(BenchModel bench)
    {
        bench.Header($"prune-weights on {BigGemm} (802,816 weights); values: float32, float16 or n-bit palette codes of the non-zeros");
        bench.Row("fp32 (lossless passes)");
        foreach (var bits in new[] { 4, 3, 2 }) // the dense forms at the same bits per weight, to compare with
            bench.Row($"no pruning, {bits}-bit palette per 16 channels", new WeightPalettization(At(bits), PaletteGranularity.PerChannelGroup, 16));
        foreach (var sparsity in new[] { 0.5, 0.75, 0.9 })
        {
            foreach (var (label, bits, granularity) in new[]
            {
                ("float32", 32, PaletteGranularity.PerTensor),
                ("float16", 16, PaletteGranularity.PerTensor),
                ("4-bit codes per tensor", 4, PaletteGranularity.PerTensor),
                ("4-bit codes per 16 channels", 4, PaletteGranularity.PerChannelGroup),
                ("3-bit codes per 16 channels", 3, PaletteGranularity.PerChannelGroup),
                ("2-bit codes per 16 channels", 2, PaletteGranularity.PerChannelGroup),
            })
            {
                var pass = new MagnitudePruning(SparsityTarget.Layers(new Dictionary<string, double> { [BigGemm] = sparsity }), At(bits), granularity, 16);
                bench.Row($"{sparsity:P0} sparse, {label}", pass);
                var outcome = pass.Outcomes.Single();
                Console.WriteLine($"|   ↳ bits/weight: formula 1 + (1 − s)·b = {SparseEncoding.MaskedBitsPerWeight(outcome.Sparsity, bits):0.00}, " +
                    $"stored {8.0 * outcome.MaskedBytes / outcome.Elements:0.00} (dense same values {8.0 * outcome.DenseBytes / outcome.Elements:0.00}); " +
                    $"weight RMS error {outcome.RmsError:0.00000}{(outcome.Applied ? "" : $"; refused: {outcome.Refusal}")} |||||||||");
            }
        }

        bench.Header("refusals: sparsities below 1/b (the pass leaves the tensor unchanged)");
        foreach (var (sparsity, bits) in new[] { (0.02, 32), (0.05, 16), (0.2, 4), (0.4, 2) })
        {
            var pass = new MagnitudePruning(SparsityTarget.Layers(new Dictionary<string, double> { [BigGemm] = sparsity }), At(bits));
            bench.Row($"{sparsity:P0} sparse, {bits}-bit values", pass);
            Console.WriteLine($"|   ↳ {pass.Outcomes.Single().Refusal ?? "applied"} |||||||||");
        }

        var nodes = WeightPalettization.EligibleNodes(bench.Lossless);
        var others = nodes.Where(n => n != BigGemm).ToDictionary(n => n, _ => 6);
        bench.Header("combined: pruned big Gemm with 4-bit codes, every other layer palettized (6-bit per 16 channels)");
        foreach (var sparsity in new[] { 0.5, 0.75, 0.9 })
            bench.Row($"{sparsity:P0} sparse Gemm, 4-bit codes per 16 channels + 6-bit others",
                new MagnitudePruning(SparsityTarget.Layers(new Dictionary<string, double> { [BigGemm] = sparsity }), At(4), PaletteGranularity.PerChannelGroup, 16),
                new WeightPalettization(others, PaletteGranularity.PerChannelGroup, 16));
        bench.Row("global 75 % over every layer, 4-bit codes per 16 channels",
            new MagnitudePruning(SparsityTarget.Global(0.75, nodes), nodes.ToDictionary(n => n, _ => 4), PaletteGranularity.PerChannelGroup, 16));
    }

    private static Dictionary<string, int> At(int bits) => new() { [BigGemm] = bits };
}
