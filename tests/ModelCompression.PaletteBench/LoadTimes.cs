using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.PaletteBench;

/// <summary>Session creation time (constant folding of the expansions included) by code width, median of many loads.</summary>
internal static class LoadTimes
{
    public static void Run(BenchModel bench)
    {
        Console.WriteLine();
        Console.WriteLine($"## {bench.Name}: session creation time by code width (median of 21 loads; fp32 {BenchModel.LoadTime(bench.Lossless, 21).TotalMilliseconds:0.0} ms)");
        Console.WriteLine();
        Console.WriteLine("| width | per tensor | per 16 channels |");
        Console.WriteLine("|---:|---:|---:|");
        var nodes = WeightPalettization.EligibleNodes(bench.Lossless);
        foreach (var bits in new[] { 1, 2, 3, 4, 5, 6, 7, 8 })
        {
            var perTensor = bench.Lossless.Clone();
            new WeightPalettization(nodes.ToDictionary(n => n, _ => bits)).Apply(perTensor);
            var perGroup = bench.Lossless.Clone();
            new WeightPalettization(nodes.ToDictionary(n => n, _ => bits), PaletteGranularity.PerChannelGroup, 16).Apply(perGroup);
            Console.WriteLine($"| {bits} | {BenchModel.LoadTime(perTensor, 21).TotalMilliseconds:0.0} ms | {BenchModel.LoadTime(perGroup, 21).TotalMilliseconds:0.0} ms |");
        }
    }
}
