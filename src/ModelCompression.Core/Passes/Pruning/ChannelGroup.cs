namespace ModelCompression.Core.Passes.Pruning;

/// <summary>
/// Output channels that must be pruned together: the channels of every producer (Conv, Gemm, MatMul) whose outputs
/// meet through residual additions, elementwise products, depthwise convolutions and the like.
/// </summary>
/// <param name="Id">The stable name a pruning ratio targets: the name of the group's first producer in graph order.</param>
/// <param name="Channels">How many channels the group has (each is removed everywhere at once).</param>
/// <param name="Producers">The nodes whose output channels are the group's channels, in graph order.</param>
/// <param name="Layers">Every Conv, Gemm or MatMul whose weights lose slices when a channel goes: the producers,
/// depthwise convolutions in between, and the consumers (their input channels), in graph order.</param>
/// <param name="Nodes">Every node pruning the group edits (the layers, and the BatchNorms, elementwise operators with
/// per-channel constants, depthwise group counts and Reshape targets that follow the channels), in graph order.</param>
/// <param name="Parameters">Weight, bias and constant elements that belong to the group's channels (what pruning all
/// of them would remove).</param>
/// <param name="RefusedBecause">Why the group cannot be pruned (it meets something the dependency graph cannot
/// prove safe); null when it can.</param>
public sealed record ChannelGroup(
    string Id,
    int Channels,
    IReadOnlyList<string> Producers,
    IReadOnlyList<string> Layers,
    IReadOnlyList<string> Nodes,
    long Parameters,
    string? RefusedBecause)
{
    public bool IsPrunable => RefusedBecause is null;

    /// <summary>
    /// The channels <paramref name="ratio"/> removes: ⌊channels·ratio⌋, then adjusted so that the kept count stays a
    /// multiple of the largest power of two up to <paramref name="channelMultiple"/> that divides the channel count
    /// (the nearest such count, the larger on a tie), leaving at least that many channels.
    /// </summary>
    public int ChannelsRemovedAt(double ratio, int channelMultiple = 1)
    {
        if (Channels <= 1) return 0;
        var removed = Math.Clamp((int)Math.Floor(Channels * ratio + 1e-9), 0, Channels - 1);
        var alignment = 1;
        while (alignment * 2 <= channelMultiple && Channels % (alignment * 2) == 0) alignment *= 2;
        var kept = Channels - removed;
        var aligned = (int)Math.Round(kept / (double)alignment, MidpointRounding.AwayFromZero) * alignment;
        return Channels - Math.Clamp(aligned, alignment, Channels);
    }

    public override string ToString() =>
        $"{Id}: {Channels} channels, producers [{string.Join(", ", Producers)}], layers [{string.Join(", ", Layers)}]"
        + (IsPrunable ? "" : $", refused: {RefusedBecause}");
}
