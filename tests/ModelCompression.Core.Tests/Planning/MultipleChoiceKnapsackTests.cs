using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Tests.Planning;

public class MultipleChoiceKnapsackTests
{
    private static readonly KnapsackOption Unchanged = new(0, 0);

    [Fact]
    public void Picks_the_combination_that_saves_most_within_the_budget()
    {
        // Unit A: int8 saves 300 for 0.2 pt, int4 saves 400 for 0.9 pt. Unit B: int8 saves 100 for 0.3 pt, int4 saves 350 for 0.5 pt.
        IReadOnlyList<KnapsackOption>[] units =
        [
            [Unchanged, new(-300, 0.002), new(-400, 0.009)],
            [Unchanged, new(-100, 0.003), new(-350, 0.005)],
        ];

        // 1 pt allows A:int8 + B:int4 (650 saved, 0.7 pt) but not A:int4 + B:int4 (1.4 pt).
        Assert.Equal([1, 2], MultipleChoiceKnapsack.Solve(units, 0.01)!);
        // 0.5 pt: A:int8 + B:int8 (400, 0.5 pt) beats A:int8 alone (300) and B:int4 alone (350).
        Assert.Equal([1, 1], MultipleChoiceKnapsack.Solve(units, 0.005)!);
        // Nothing lossy fits a zero budget.
        Assert.Equal([0, 0], MultipleChoiceKnapsack.Solve(units, 0)!);
    }

    [Fact]
    public void Free_options_are_always_taken_and_rises_give_no_credit()
    {
        IReadOnlyList<KnapsackOption>[] units =
        [
            [Unchanged, new(-500, 0)],          // lossless saving (fp16-like)
            [Unchanged, new(-200, -0.05)],      // measured as a rise: counted as 0, not as room for others
            [Unchanged, new(-900, 0.011)],      // over the whole budget alone
        ];

        Assert.Equal([1, 1, 0], MultipleChoiceKnapsack.Solve(units, 0.01)!);
    }

    [Fact]
    public void Without_a_free_option_that_fits_there_is_no_solution()
    {
        IReadOnlyList<KnapsackOption>[] units = [[new(-10, 0.5)]];

        Assert.Null(MultipleChoiceKnapsack.Solve(units, 0.01)!);
    }

    [Fact]
    public void Matches_exhaustive_search_on_random_instances()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 200; trial++)
        {
            var units = Enumerable.Range(0, 4).Select(_ => (IReadOnlyList<KnapsackOption>)
                [Unchanged, .. Enumerable.Range(0, 3).Select(_ => new KnapsackOption(-random.Next(1, 1000), Math.Round(random.NextDouble() * 0.01, 4)))]).ToList();
            var budget = 0.0125;

            var chosen = MultipleChoiceKnapsack.Solve(units, budget)!;

            var bestBytes = long.MaxValue;
            foreach (var combination in Combinations(units.Select(u => u.Count).ToArray()))
            {
                // The solver rounds drops up to its grid, so compare against exhaustive search with the same rounding.
                var rounded = combination.Select((o, u) => Math.Ceiling(units[u][o].Drop / (budget / MultipleChoiceKnapsack.Resolution) - 1e-9)).Sum();
                if (rounded <= MultipleChoiceKnapsack.Resolution) bestBytes = Math.Min(bestBytes, combination.Select((o, u) => units[u][o].Bytes).Sum());
            }
            Assert.Equal(bestBytes, chosen.Select((o, u) => units[u][o].Bytes).Sum());
            Assert.True(chosen.Select((o, u) => units[u][o].Drop).Sum() <= budget + 1e-12);
        }
    }

    private static IEnumerable<int[]> Combinations(int[] counts)
    {
        var current = new int[counts.Length];
        while (true)
        {
            yield return current.ToArray();
            var i = 0;
            while (i < counts.Length && ++current[i] == counts[i]) current[i++] = 0;
            if (i == counts.Length) yield break;
        }
    }
}
