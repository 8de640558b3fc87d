using ModelCompression.Core.Passes.Palettization;

namespace ModelCompression.Core.Passes.Sparsity;

/// <summary>
/// Builds the masked form of a pruned weight (<see cref="SparseEncoding"/>) into a <see cref="ConstantProgram"/>: the
/// 1-bit mask (a 1-bit <see cref="BitSlices"/> slice) and the non-zeros in row-major order, as float32, float16 or
/// palette codes. Two ways back to the dense weight, both folded by ONNX Runtime at load:
/// <list type="bullet">
/// <item>opset 11 and later: rank = CumSum(mask) · mask (1..nnz for kept elements, 0 for pruned ones) and Gather from
/// [0, non-zeros...]: O(N);</item>
/// <item>opsets 9 and 10 (no CumSum): the kept positions are TopK(mask, k = nnz), which returns equal values lower index
/// first, so ascending; Scatter writes the non-zeros there into ConstantOfShape zeros. NonZero would give the
/// positions too, but ONNX Runtime (1.31) does not fold a node whose output size is unknown before it runs.</item>
/// </list>
/// </summary>
internal static class MaskedWeight
{
    /// <summary>Adds the program; returns its output value (named <paramref name="output"/>) and the weights it computes.</summary>
    public static (string Output, float[] Values) Build(ConstantProgram program, float[] pruned, long[] shape, ChannelLayout layout, int bits, string output)
    {
        var positions = Enumerable.Range(0, pruned.Length).Where(i => pruned[i] != 0f).ToArray();
        var nonZeros = positions.Select(i => pruned[i]).ToArray();
        var palettized = bits <= PalettizedValues.MaxBits
            ? PalettizedValues.Fit(nonZeros, bits, layout.Groups, positions.Select(i => layout.GroupOf(i)).ToArray())
            : null;
        var stored = palettized?.Decode() ?? (bits == SparseEncoding.Float16Bits ? nonZeros.Select(v => (float)(Half)v).ToArray() : nonZeros);
        var decoded = new float[pruned.Length];
        for (var k = 0; k < positions.Length; k++) decoded[positions[k]] = stored[k];

        string Result(string dense) => program.Named("Reshape", output, [dense, program.Constant("shape", [shape.Length], (ReadOnlySpan<long>)shape)]);
        if (positions.Length == 0) return (Result(ZerosOf(program, pruned.Length)), decoded);
        var mask = program.Codes(pruned.Select(v => v != 0f ? 1 : 0).ToArray(), 1, [pruned.Length], "m"); // int32 [N]
        var dense = program.Opset >= 11
            ? ByRank(program, mask, nonZeros, palettized, bits, shape, layout)
            : ByPositions(program, mask, nonZeros, palettized, bits, layout);
        return (Result(dense), decoded);
    }

    /// <summary>Gather from [0, non-zeros...] at rank = CumSum(mask) · mask; for codes, Gather from [0, palettes...].</summary>
    private static string ByRank(ConstantProgram program, string mask, float[] nonZeros, PalettizedValues? palettized, int bits, long[] shape, ChannelLayout layout)
    {
        var rank = program.Op("Mul", "rank", [program.Op("CumSum", "cum", [mask, program.Constant("axis", [], (ReadOnlySpan<int>)[0])]), mask]);
        if (palettized is null)
        {
            float[] values = [0f, .. nonZeros];
            var table = bits == SparseEncoding.Float16Bits
                ? program.Cast(program.Constant("v", [values.Length], (ReadOnlySpan<Half>)values.Select(v => (Half)v).ToArray()), DataType.Float, "vf")
                : program.Constant("v", [values.Length], (ReadOnlySpan<float>)values);
            return program.Op("Gather", "dense", [table, rank]);
        }
        // Each element's code (pruned ones read the leading 0), then its palette entry + 1 (+ its group's offset),
        // times the mask, so that pruned elements read the leading 0 of the palettes.
        var codes = program.Op("Concat", "cz", [program.Constant("c0", [1], (ReadOnlySpan<int>)[0]), program.Codes(palettized.Codes, bits, [nonZeros.Length], "c")], ("axis", 0));
        var code = program.Op("Gather", "code", [codes, rank]);
        string index;
        if (palettized.Groups > 1)
        {
            var offsetShape = shape.Select((_, a) => a == layout.Axis ? layout.Channels : 1L).ToArray();
            var offsets = new int[layout.Channels];
            for (var c = 0; c < offsets.Length; c++) offsets[c] = c / layout.GroupSize * palettized.PaletteSize + 1;
            var entry = program.Op("Add", "entry", [program.Reshape(code, shape, "code_s"), program.Constant("off", offsetShape, (ReadOnlySpan<int>)offsets)]);
            index = program.Op("Mul", "idx", [program.Reshape(entry, [ElementCount(shape)], "entry_f"), mask]);
        }
        else
            index = program.Op("Mul", "idx", [program.Op("Add", "entry", [code, program.Constant("one", [], (ReadOnlySpan<int>)[1])]), mask]);
        float[] palettes = [0f, .. palettized.Table];
        return program.Op("Gather", "dense", [program.Constant("t", [palettes.Length], (ReadOnlySpan<float>)palettes), index]);
    }

    /// <summary>Scatter the non-zeros into zeros at the positions TopK(mask, nnz) gives (ascending).</summary>
    private static string ByPositions(ConstantProgram program, string mask, float[] nonZeros, PalettizedValues? palettized, int bits, ChannelLayout layout)
    {
        var at = program.TopKIndices(program.Cast(mask, DataType.Float, "mf"), nonZeros.Length, "at"); // int64 [nnz]
        string values;
        if (palettized is null)
            values = bits == SparseEncoding.Float16Bits
                ? program.Cast(program.Constant("v", [nonZeros.Length], (ReadOnlySpan<Half>)nonZeros.Select(v => (Half)v).ToArray()), DataType.Float, "vf")
                : program.Constant("v", [nonZeros.Length], (ReadOnlySpan<float>)nonZeros);
        else
        {
            var index = program.Codes(palettized.Codes, bits, [nonZeros.Length], "c");
            if (palettized.Groups > 1) index = program.Op("Add", "idx", [index, PaletteOffsets(program, at, layout, palettized.PaletteSize)]);
            values = program.Op("Gather", "v", [program.Table(palettized.Table, PaletteTable.Float32, "t"), index]);
        }
        return program.ScatterAlongFirstAxis(ZerosOf(program, ElementCount(layout.Shape)), at, values, "dense");
    }

    /// <summary>Each non-zero's palette offset from its position: ((at / stride) mod C) / groupSize · 2ⁿ, as int32.</summary>
    private static string PaletteOffsets(ConstantProgram program, string at, ChannelLayout layout, int paletteSize)
    {
        string Scalar(string name, long value) => program.Constant(name, [], (ReadOnlySpan<long>)[value]);
        var channel = layout.Stride == 1 ? at : program.Op("Div", "ch", [at, Scalar("stride", layout.Stride)]);
        if (layout.Shape.Take(layout.Axis).Aggregate(1L, (a, d) => a * d) > 1) // channels repeat along the leading axes
        {
            var channels = Scalar("channels", layout.Channels);
            channel = program.Op("Sub", "chm", [channel, program.Op("Mul", "chq", [program.Op("Div", "chd", [channel, channels]), channels])]);
        }
        var group = layout.GroupSize == 1 ? channel : program.Op("Div", "grp", [channel, Scalar("gsize", layout.GroupSize)]);
        return program.Cast(program.Op("Mul", "off", [group, Scalar("psize", paletteSize)]), DataType.Int32, "off32");
    }

    // float zeros [count] (ConstantOfShape's default value is float 0).
    private static string ZerosOf(ConstantProgram program, long count) =>
        program.Op("ConstantOfShape", "zeros", [program.Constant("n", [1], (ReadOnlySpan<long>)[count])]);

    private static long ElementCount(long[] shape) => shape.Aggregate(1L, (a, d) => a * d);
}
