namespace ModelCompression.Core.Passes.Palettization;

/// <summary>Which weights share one palette.</summary>
public enum PaletteGranularity
{
    /// <summary>One palette for the whole tensor.</summary>
    PerTensor,
    /// <summary>One palette per group of consecutive output channels (the weight's channel axis, as int8 scales use).</summary>
    PerChannelGroup,
}

/// <summary>The element type the palette (lookup table) is stored in.</summary>
public enum PaletteTable
{
    /// <summary>float32 entries: the centroids exactly (256 distinct values come back bit for bit).</summary>
    Float32,
    /// <summary>float16 entries, cast to float at load: half the table bytes, centroids rounded to float16 (relative 2⁻¹¹).</summary>
    Float16,
}
