namespace ModelCompression.Core.Passes.LowRank;

/// <summary>
/// A layer <see cref="LowRankFactorization"/> can factor: its weight as a matrix of <see cref="Inputs"/> (m) rows by
/// <see cref="Outputs"/> (n) columns, and the largest rank whose two factors are smaller than the weight.
/// </summary>
public sealed record LowRankLayer(string Node, string OpType, int Inputs, int Outputs)
{
    /// <summary>The weight's elements, m·n.</summary>
    public long Parameters => (long)Inputs * Outputs;

    /// <summary>The largest k with k·(m + n) &lt; m·n: any larger rank stores more than the weight itself.</summary>
    public int MaxUsefulRank => LowRankFactorization.MaxUsefulRank(Inputs, Outputs);

    /// <summary>The elements of the two factors at rank <paramref name="rank"/>, k·(m + n).</summary>
    public long FactoredParameters(int rank) => (long)rank * (Inputs + Outputs);
}
