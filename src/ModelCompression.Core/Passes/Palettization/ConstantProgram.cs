using Google.Protobuf;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Tensors;

namespace ModelCompression.Core.Passes.Palettization;

/// <summary>
/// New initializers and the standard-ONNX nodes that compute one value from them (e.g. a weight from its packed codes),
/// collected before the graph is touched, so a pass can weigh their stored bytes against the tensor they would replace
/// and then commit or drop them. Every node reads only constants, so ONNX Runtime folds the whole program into one
/// initializer when the session loads (at ORT_ENABLE_BASIC and above). Ops follow the model's opset: the programs run
/// from opset 9 (ppocr) up. The program's fixed cost in the file decides which small tensors it pays for, so it is kept
/// small: intermediate values get short names under one short prefix, nodes stay unnamed (the program is folded away at
/// load), and small constants (divisors, shapes, offsets) are shared, through a <see cref="ConstantPool"/>, with the
/// programs already committed to the same graph.
/// </summary>
internal sealed class ConstantProgram(ModelView model, string prefix, ConstantPool? pool = null)
{
    private readonly string _prefix = model.Names.Next(prefix);

    private readonly List<TensorProto> _initializers = [];
    private readonly List<NodeProto> _nodes = [];
    private readonly int _opset = model.OpsetVersion();
    private readonly Dictionary<string, string> _shared = []; // content → name: this program's shareable constants

    public IReadOnlyList<NodeProto> Nodes => _nodes;

    /// <summary>A name reserved for the program that no value uses yet: free to name the program's result.</summary>
    public string Name => _prefix;

    /// <summary>The model's ONNX opset: the ops a program may use.</summary>
    public int Opset => _opset;

    /// <summary>The bytes the program adds to the serialized model: its initializers, nodes (and, before IR 4, the graph inputs initializers need).</summary>
    public long StoredBytes => _initializers.Sum(t => EntryBytes(t) + (model.InitializersMustBeInputs ? EntryBytes(InputFor(t)) : 0))
        + _nodes.Sum(n => EntryBytes(n));

    /// <summary>What removing <paramref name="tensor"/> from a graph saves (with its graph input before IR 4).</summary>
    public static long BytesOf(TensorProto tensor, bool initializersAreInputs) =>
        EntryBytes(tensor) + (initializersAreInputs ? EntryBytes(InputFor(tensor)) : 0);

    /// <summary>
    /// A small constant that the program reads only: an identical one the pool's graph already holds (or this program
    /// made) is read instead of a new copy.
    /// </summary>
    public string Shared<T>(string suffix, long[] shape, ReadOnlySpan<T> values) where T : unmanaged
    {
        var array = NdArray.Create(shape, values);
        var key = $"{array}:{Convert.ToBase64String(array.Data)}";
        if (_shared.TryGetValue(key, out var name) || pool?.TryGet(key, out name) == true) return name!;
        name = Constant(suffix, shape, values);
        _shared[key] = name;
        return name;
    }

    public string Constant<T>(string suffix, long[] shape, ReadOnlySpan<T> values) where T : unmanaged
    {
        var name = model.Names.Next($"{_prefix}.{suffix}");
        _initializers.Add(TensorProtoConverter.ToTensorProto(NdArray.Create(shape, values), name));
        return name;
    }

    public string Op(string opType, string suffix, string[] inputs, params (string Name, object Value)[] attributes) =>
        Named(opType, model.Names.Next($"{_prefix}.{suffix}"), inputs, attributes);

    /// <summary>A node whose output gets the full name <paramref name="output"/> (e.g. the value that replaces a weight).</summary>
    public string Named(string opType, string output, string[] inputs, params (string Name, object Value)[] attributes)
    {
        _nodes.Add(OnnxFactory.Node(opType, inputs, [output], attributes: attributes));
        return output;
    }

    public string Cast(string input, DataType to, string suffix) => Op("Cast", suffix, [input], ("to", (int)to));

    public string Reshape(string input, long[] shape, string suffix) =>
        Op("Reshape", suffix, [input, Shared("s", [shape.Length], (ReadOnlySpan<long>)shape)]);

    /// <summary>The first <paramref name="count"/> elements of a 1-D value (Slice: attributes before opset 10, inputs since).</summary>
    public string Prefix(string input, long count, string suffix) => _opset < 10
        ? Op("Slice", suffix, [input], ("starts", new[] { 0L }), ("ends", new[] { count }), ("axes", new[] { 0L }))
        : Op("Slice", suffix, [input, Shared("b", [1], [0L]), Shared("e", [1], [count])]);

    /// <summary>
    /// The indices (int64 [<paramref name="k"/>], ascending) of the <paramref name="k"/> largest elements of a 1-D float
    /// value; among equal values the lower index comes first (TopK: k an attribute before opset 10, an input since).
    /// Unlike NonZero, TopK has an output size known before it runs, which ONNX Runtime requires to fold a node.
    /// </summary>
    public string TopKIndices(string input, long k, string suffix)
    {
        var values = model.Names.Next($"{_prefix}.{suffix}.v");
        var indices = model.Names.Next($"{_prefix}.{suffix}");
        _nodes.Add(_opset < 10
            ? OnnxFactory.Node("TopK", [input], [values, indices], attributes: [("k", k), ("axis", 0)])
            : OnnxFactory.Node("TopK", [input, Constant($"{suffix}.k", [1], (ReadOnlySpan<long>)[k])], [values, indices], attributes: ("axis", 0)));
        return indices;
    }

    /// <summary><paramref name="data"/> with <paramref name="updates"/> written at <paramref name="indices"/> along axis 0 (Scatter before opset 11, ScatterElements since).</summary>
    public string ScatterAlongFirstAxis(string data, string indices, string updates, string suffix) =>
        Op(_opset < 11 ? "Scatter" : "ScatterElements", suffix, [data, indices, updates], ("axis", 0));

    /// <summary>
    /// Stores <paramref name="codes"/> (each below 2^<paramref name="bits"/>) as <see cref="BitSlices"/> and returns the
    /// int32 value of <paramref name="shape"/> that unpacks them.
    /// </summary>
    public string Codes(ReadOnlySpan<int> codes, int bits, long[] shape, string suffix)
    {
        var (value, unpacked) = Unpack(codes, bits, [], suffix);
        return unpacked.SequenceEqual(shape) ? value : Reshape(value, shape, $"{suffix}r");
    }

    /// <summary>
    /// The int32 codes (row-major in the codes' order) in the shape that takes fewest nodes, with M = count / product(
    /// <paramref name="lead"/>): <paramref name="lead"/> + [M / k, k] when every slice's bytes split evenly into the lead
    /// rows (k: codes per byte of the narrowest slice), else <paramref name="lead"/> + [M]. 8-bit codes are plain uint8
    /// bytes (a Cast). A slice of width w &lt; 8 stores its bytes as lead + [M·w/8, 1] (or [B, 1] when uneven): q = x / [1,
    /// 2ʷ, 2²ʷ, ...] spreads each byte over its 8/w codes (integer Div of non-negative int32 is floor division), its digit
    /// is q mod 2ʷ (before opset 10, which lacks Mod: q − 2ʷ·(q / 2ʷ)), shifted into place (· 2^shift) and added to the
    /// other slices. Uneven slices are flattened and the last byte's padding trimmed.
    /// </summary>
    private (string Value, long[] Shape) Unpack(ReadOnlySpan<int> codes, int bits, long[] lead, string suffix)
    {
        var slices = BitSlices.Of(bits);
        var m = codes.Length / lead.Aggregate(1L, (a, d) => a * d);
        var even = slices.All(s => m % s.CodesPerByte == 0);
        var k = slices[^1].CodesPerByte;
        long[] shape = even && k > 1 ? [.. lead, m / k, k] : [.. lead, m];
        string? code = null;
        foreach (var slice in slices)
        {
            var name = slices.Count == 1 ? suffix : $"{suffix}{slice.Width}"; // its values: name + one letter
            var packed = BitSlices.Pack(codes, bits, slice);
            string digits;
            if (slice.Width == 8)
                digits = Cast(Constant(name, shape, (ReadOnlySpan<byte>)packed), DataType.Int32, $"{name}i");
            else
            {
                var perByte = slice.CodesPerByte;
                long[] stored = even ? [.. lead, m / perByte, 1] : [packed.Length, 1];
                var x = Cast(Constant(name, stored, (ReadOnlySpan<byte>)packed), DataType.Int32, $"{name}i");
                var powers = Enumerable.Range(0, perByte).Select(j => 1 << (slice.Width * j)).ToArray();
                var q = Op("Div", $"{name}q", [x, Shared($"p{slice.Width}", [perByte], (ReadOnlySpan<int>)powers)]);
                var digitBase = Shared($"b{slice.Width}", [], (ReadOnlySpan<int>)[1 << slice.Width]);
                digits = _opset < 10 // Mod (integer, non-negative operands) needs opset 10: one op instead of three
                    ? Op("Sub", $"{name}d", [q, Op("Mul", $"{name}h", [Op("Div", $"{name}f", [q, digitBase]), digitBase])])
                    : Op("Mod", $"{name}d", [q, digitBase]);
                if (!even)
                {
                    digits = Reshape(digits, [packed.Length * perByte], $"{name}f");
                    if (packed.Length * perByte != codes.Length) digits = Prefix(digits, codes.Length, $"{name}t");
                }
                else if (perByte != k) digits = Reshape(digits, shape, $"{name}r");
            }
            if (slice.Shift > 0) digits = Op("Mul", $"{name}s", [digits, Shared($"m{slice.Shift}", [], (ReadOnlySpan<int>)[1 << slice.Shift])]);
            code = code is null ? digits : Op("Add", $"{name}a", [code, digits]);
        }
        if (!even && lead.Length > 0) code = Reshape(code!, shape, $"{suffix}r");
        return (code!, shape);
    }

    /// <summary>A float [N] palette (float32, or float16 cast to float) to Gather from.</summary>
    public string Table(float[] table, PaletteTable type, string suffix)
    {
        if (type == PaletteTable.Float32) return Constant(suffix, [table.Length], (ReadOnlySpan<float>)table);
        var halves = table.Select(v => (Half)v).ToArray();
        return Cast(Constant($"{suffix}.h", [halves.Length], (ReadOnlySpan<Half>)halves), DataType.Float, suffix);
    }

    /// <summary>
    /// The weight of <paramref name="shape"/> from palettized values (one per element, row-major): codes → int32 indices
    /// (+ g·2ⁿ for group g's palette, when there are several) → Gather from the concatenated palettes → the weight's
    /// shape. When the groups hold the same number of channels, the codes are unpacked as [rows, G, M / k, k] (rows: the
    /// dimensions before the channel axis), so a [G, 1, 1] offset broadcasts over them; otherwise each channel's offset is
    /// stored (int32, along the channel axis). <paramref name="output"/> names the result.
    /// </summary>
    public string DenseFromPalette(PalettizedValues values, long[] shape, ChannelLayout layout, PaletteTable table, string output)
    {
        var palettes = Table(values.Table, table, "t");
        var perByte = BitSlices.Of(values.Bits)[^1].CodesPerByte;
        var count = values.Codes.Length;
        if (values.Groups == 1)
        {
            // Rows of the first dimension when they split into whole bytes (a 2-D weight is then one Flatten away).
            long[] lead = perByte == 1 ? shape[..^1] : shape.Length > 1 && count / shape[0] % perByte == 0 ? [shape[0]] : [];
            var (codes, codeShape) = Unpack(values.Codes, values.Bits, lead, "c");
            return Gathered(palettes, codes, codeShape, shape, output);
        }
        if (layout.Channels % layout.GroupSize == 0)
        {
            // [rows, G, GS·stride] (rows: the dimensions before the channel axis), or [G, GS, stride] when the channel
            // axis comes first and each channel's elements split into whole bytes.
            var rows = shape.Take(layout.Axis).Aggregate(1L, (a, d) => a * d);
            long[] lead = rows > 1 ? [rows, values.Groups] : layout.Stride % perByte == 0 ? [values.Groups, layout.GroupSize] : [values.Groups];
            var (codes, codeShape) = Unpack(values.Codes, values.Bits, lead, "c");
            var offsets = Enumerable.Range(0, values.Groups).Select(g => g * values.PaletteSize).ToArray();
            var groupAxis = rows > 1 ? 1 : 0;
            long[] offsetShape = [values.Groups, .. Enumerable.Repeat(1L, codeShape.Length - groupAxis - 1)];
            return Gathered(palettes, Op("Add", "x", [codes, Shared("o", offsetShape, (ReadOnlySpan<int>)offsets)]), codeShape, shape, output);
        }
        var channelOffsets = new int[layout.Channels];
        for (var c = 0; c < channelOffsets.Length; c++) channelOffsets[c] = c / layout.GroupSize * values.PaletteSize;
        var channelShape = shape.Select((_, a) => a == layout.Axis ? layout.Channels : 1L).ToArray();
        var index = Op("Add", "x", [Codes(values.Codes, values.Bits, shape, "c"), Shared("o", channelShape, (ReadOnlySpan<int>)channelOffsets)]);
        return Named("Gather", output, [palettes, index]);
    }

    // Gather from the palettes, then the weight's shape: none needed, a Flatten (a 2-D weight whose first dimension is
    // the product of the leading index dimensions: no shape constant), or a Reshape.
    private string Gathered(string palettes, string index, long[] indexShape, long[] shape, string output)
    {
        if (indexShape.SequenceEqual(shape)) return Named("Gather", output, [palettes, index]);
        var gathered = Op("Gather", "g", [palettes, index]);
        for (var axis = 1; shape.Length == 2 && axis < indexShape.Length; axis++)
            if (indexShape.Take(axis).Aggregate(1L, (a, d) => a * d) == shape[0])
                return Named("Flatten", output, [gathered], ("axis", axis));
        return Named("Reshape", output, [gathered, Shared("s", [shape.Length], (ReadOnlySpan<long>)shape)]);
    }

    /// <summary>Adds the program to the graph holding <paramref name="weight"/>, before every reader of the weight.</summary>
    public void AddTo(WeightReplacement weight)
    {
        foreach (var tensor in _initializers) weight.Owner.AddInitializer(tensor);
        foreach (var node in _nodes) weight.AddNode(node);
        foreach (var (content, name) in _shared) pool?.Add(content, name);
    }

    // A repeated message field: a one-byte tag, the length varint, the message.
    private static long EntryBytes(IMessage message) => 1 + CodedOutputStream.ComputeMessageSize(message);

    private static ValueInfoProto InputFor(TensorProto tensor) =>
        OnnxFactory.TensorValueInfo(tensor.Name, (DataType)tensor.DataType, tensor.Dims.Cast<object?>().ToArray());
}
