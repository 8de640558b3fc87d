using System.Globalization;
using ModelCompression.Core.Passes.DataAware;

namespace ModelCompression.Core.Planning;

/// <summary>How a layer's weights are stored.</summary>
public enum WeightFormat
{
    Fp32,
    Fp16,
    Int8,
    Int4,
    /// <summary>n-bit indices into a table of 2^n centroids.</summary>
    Palette,
}

/// <summary>
/// What a plan does to one layer: optionally factor it to a rank or zero a share of its weights,
/// then store its weights (or its factors' weights) in a format.
/// </summary>
/// <param name="Bits">Palette only: index bits (2–8).</param>
/// <param name="Rank">Low-rank factorization to this rank; 0 = none.</param>
/// <param name="Sparsity">Share of weights zeroed by magnitude; 0 = none.</param>
/// <param name="Rounding">How the factorization and the int8/int4/palette storage pick their values: to nearest, or for
/// the layer's output with its input moments (GPTQ, whitened SVD, Hessian-weighted palettes; plan steps'
/// <c>rounding=hessian</c>). Int8 with <see cref="Rounding.Hessian"/> is stored weight-only (the static and dynamic forms
/// quantize their weights their own way). Magnitude-pruned palettes and fp16 storage round to nearest.</param>
public sealed record LayerSetting(WeightFormat Format, int Bits = 0, int Rank = 0, double Sparsity = 0, Rounding Rounding = Rounding.Nearest)
{
    public static LayerSetting Float { get; } = new(WeightFormat.Fp32);

    /// <summary>Settings whose score change is too small to be worth measuring (fp16 weights): counted as no drop.</summary>
    public bool AssumedLossless => Format is WeightFormat.Fp32 or WeightFormat.Fp16 && Rank == 0 && Sparsity == 0;

    /// <summary>Plain int8/int4/fp16 storage of the layer as it is (the quantization-only family).</summary>
    public static bool IsQuantization(LayerSetting setting) =>
        setting.Format is WeightFormat.Fp16 or WeightFormat.Int8 or WeightFormat.Int4 && setting.Rank == 0 && setting.Sparsity == 0;

    /// <summary>Storage bits per weight, for ordering settings before they are measured.</summary>
    public double NominalBits => Format switch
    {
        WeightFormat.Fp16 => 16,
        WeightFormat.Int8 => 8,
        WeightFormat.Int4 => 4.5,
        WeightFormat.Palette => Bits,
        _ => 32,
    } * (1 - Sparsity) + (Sparsity > 0 ? 1 : 0);

    /// <summary>E.g. "int8", "rank 12 + palette 4-bit"; data-aware: "int4 (GPTQ)", "rank 12 (whitened) + palette 4-bit (Hessian-weighted)".</summary>
    public override string ToString()
    {
        var hessian = Rounding == Rounding.Hessian;
        var format = Format == WeightFormat.Palette ? $"palette {Bits}-bit" : Format.ToString().ToLowerInvariant();
        if (hessian && Sparsity == 0) format += Format switch
        {
            WeightFormat.Int8 or WeightFormat.Int4 => " (GPTQ)",
            WeightFormat.Palette => " (Hessian-weighted)",
            _ => "",
        };
        var prefix = (Rank > 0 ? $"rank {Rank}{(hessian ? " (whitened)" : "")} + " : "") + (Sparsity > 0 ? $"{(Sparsity * 100).ToString("0", CultureInfo.InvariantCulture)}% sparse + " : "");
        return prefix + format;
    }
}
