namespace ModelCompression.Core.Passes.Quantization.Static;

/// <summary>A node a quantization pass was asked to quantize (or would have, when asked for all) and left as it was, and why.</summary>
public sealed record SkippedNode(string Node, string Reason)
{
    public override string ToString() => $"{Node}: {Reason}";
}
