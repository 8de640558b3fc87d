namespace ModelCompression.Core.Planning;

/// <summary>One way to compress one unit, as the knapsack sees it: what it saves and what it costs.</summary>
/// <param name="Bytes">The model's size change when only this option is applied (negative: it saves).</param>
/// <param name="Drop">The score drop when only this option is applied (clamped at 0: a rise is noise, not credit).</param>
public readonly record struct KnapsackOption(long Bytes, double Drop);

/// <summary>
/// Picks one option per unit so that the summed size change is smallest while the summed drop stays
/// within a budget (a multiple-choice knapsack). Drops of different layers roughly add up, which is
/// the approximation the planner then verifies by measuring the combination. Solved exactly by
/// dynamic programming over the budget cut into <see cref="Resolution"/> steps (drops are rounded up,
/// so the solution never exceeds the budget by rounding).
/// </summary>
public static class MultipleChoiceKnapsack
{
    public const int Resolution = 400;

    /// <param name="units">Per unit its options; every unit must offer option 0 = unchanged (0 bytes, 0 drop) or another free choice.</param>
    /// <returns>The chosen option index per unit; null when no combination fits the budget.</returns>
    public static int[]? Solve(IReadOnlyList<IReadOnlyList<KnapsackOption>> units, double budget)
    {
        var step = budget > 0 ? budget / Resolution : double.PositiveInfinity;
        int Cost(KnapsackOption o)
        {
            var drop = Math.Max(0, o.Drop);
            if (drop == 0) return 0;
            return double.IsPositiveInfinity(step) ? Resolution + 1 : (int)Math.Min(Resolution + 1, Math.Ceiling(drop / step - 1e-9));
        }

        // best[u, b]: the smallest size change of units 0..u-1 using b budget steps; choice[u, b] the option of unit u-1.
        var best = new long[units.Count + 1, Resolution + 1];
        var choice = new int[units.Count + 1, Resolution + 1];
        for (var b = 0; b <= Resolution; b++) best[0, b] = 0;
        for (var u = 1; u <= units.Count; u++)
        {
            for (var b = 0; b <= Resolution; b++)
            {
                best[u, b] = long.MaxValue;
                for (var o = 0; o < units[u - 1].Count; o++)
                {
                    var cost = Cost(units[u - 1][o]);
                    if (cost > b || best[u - 1, b - cost] == long.MaxValue) continue;
                    var total = best[u - 1, b - cost] + units[u - 1][o].Bytes;
                    if (total < best[u, b]) (best[u, b], choice[u, b]) = (total, o);
                }
            }
        }
        if (best[units.Count, Resolution] == long.MaxValue) return null;

        var result = new int[units.Count];
        for (int u = units.Count, b = Resolution; u >= 1; u--)
        {
            result[u - 1] = choice[u, b];
            b -= Cost(units[u - 1][result[u - 1]]);
        }
        return result;
    }
}
