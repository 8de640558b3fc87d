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
/// from opset 9 (ppocr) up. Intermediate values get short names under one prefix and nodes stay unnamed: the program
/// is folded away at load, and its fixed cost in the file (about 0.6 KB) decides which small tensors it pays for.
/// </summary>
internal sealed class ConstantProgram(ModelView model, string prefix)
{
    private readonly string _prefix = model.Names.Next(prefix);

    private readonly List<TensorProto> _initializers = [];
    private readonly List<NodeProto> _nodes = [];
    private readonly int _opset = model.OpsetVersion();
    private readonly Dictionary<int, (string, string)> _sliceConstants = []; // shared by every Codes call of the program

    public IReadOnlyList<NodeProto> Nodes => _nodes;

    /// <summary>The model's ONNX opset: the ops a program may use.</summary>
    public int Opset => _opset;

    /// <summary>The bytes the program adds to the serialized model: its initializers, nodes (and, before IR 4, the graph inputs initializers need).</summary>
    public long StoredBytes => _initializers.Sum(t => EntryBytes(t) + (model.InitializersMustBeInputs ? EntryBytes(InputFor(t)) : 0))
        + _nodes.Sum(n => EntryBytes(n));

    /// <summary>What removing <paramref name="tensor"/> from a graph saves (with its graph input before IR 4).</summary>
    public static long BytesOf(TensorProto tensor, bool initializersAreInputs) =>
        EntryBytes(tensor) + (initializersAreInputs ? EntryBytes(InputFor(tensor)) : 0);

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
        Op("Reshape", suffix, [input, Constant($"{suffix}.s", [shape.Length], (ReadOnlySpan<long>)shape)]);

    /// <summary>The first <paramref name="count"/> elements of a 1-D value (Slice: attributes before opset 10, inputs since).</summary>
    public string Prefix(string input, long count, string suffix) => _opset < 10
        ? Op("Slice", suffix, [input], ("starts", new[] { 0L }), ("ends", new[] { count }), ("axes", new[] { 0L }))
        : Op("Slice", suffix, [input, Constant($"{suffix}.b", [1], [0L]), Constant($"{suffix}.e", [1], [count])]);

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
    /// int32 value of <paramref name="shape"/> that unpacks them. 8-bit codes are plain uint8 bytes (a Cast). A slice of
    /// width w &lt; 8 is uint8 [B, 1]: q = x / [1, 2ʷ, 2²ʷ, ...] gives [B, 8/w] (integer Div of non-negative int32 is floor
    /// division), its digit is q mod 2ʷ (before opset 10, which lacks Mod: q − 2ʷ·(q / 2ʷ)), shifted into place (· 2^shift)
    /// and added to the other slices.
    /// </summary>
    public string Codes(ReadOnlySpan<int> codes, int bits, long[] shape, string suffix)
    {
        var count = codes.Length;
        string? code = null;
        foreach (var slice in BitSlices.Of(bits))
        {
            var name = $"{suffix}{slice.Width}";
            var packed = BitSlices.Pack(codes, bits, slice);
            if (slice.Width == 8) return Cast(Constant(name, shape, (ReadOnlySpan<byte>)packed), DataType.Int32, $"{name}.i");
            var x = Cast(Constant(name, [packed.Length, 1], (ReadOnlySpan<byte>)packed), DataType.Int32, $"{name}.i");
            var (powers, digitBase) = SliceConstants(slice.Width);
            var q = Op("Div", $"{name}.q", [x, powers]);
            var digit = _opset < 10 // Mod (integer, non-negative operands) needs opset 10: one op instead of three
                ? Op("Sub", $"{name}.d", [q, Op("Mul", $"{name}.h", [Op("Div", $"{name}.f", [q, digitBase]), digitBase])])
                : Op("Mod", $"{name}.d", [q, digitBase]);
            var flat = Reshape(digit, [packed.Length * slice.CodesPerByte], $"{name}.flat");
            if (packed.Length * slice.CodesPerByte != count) flat = Prefix(flat, count, $"{name}.trim");
            if (slice.Shift > 0) flat = Op("Mul", $"{name}.s", [flat, Constant($"{name}.sv", [], (ReadOnlySpan<int>)[1 << slice.Shift])]);
            code = code is null ? flat : Op("Add", $"{name}.sum", [code, flat]);
        }
        return shape.Length == 1 ? code! : Reshape(code!, shape, $"{suffix}.r");
    }

    // The divisors [1, 2ʷ, 2²ʷ, ...] (8/w of them) and the digit base 2ʷ, once per width and program.
    private (string Powers, string Base) SliceConstants(int width)
    {
        if (_sliceConstants.TryGetValue(width, out var constants)) return constants;
        var powers = Enumerable.Range(0, 8 / width).Select(j => 1 << (width * j)).ToArray();
        constants = (Constant($"pow{width}", [powers.Length], (ReadOnlySpan<int>)powers), Constant($"base{width}", [], (ReadOnlySpan<int>)[1 << width]));
        _sliceConstants[width] = constants;
        return constants;
    }

    /// <summary>A float [N] palette (float32, or float16 cast to float) to Gather from.</summary>
    public string Table(float[] table, PaletteTable type, string suffix)
    {
        if (type == PaletteTable.Float32) return Constant(suffix, [table.Length], (ReadOnlySpan<float>)table);
        var halves = table.Select(v => (Half)v).ToArray();
        return Cast(Constant($"{suffix}.h", [halves.Length], (ReadOnlySpan<Half>)halves), DataType.Float, suffix);
    }

    /// <summary>
    /// The weight of <paramref name="shape"/> from palettized values (one per element, row-major): codes → int32
    /// indices of the weight's shape (+ each channel's palette offset g·2ⁿ, when there are several palettes) → Gather
    /// from the concatenated palettes. <paramref name="output"/> names the result.
    /// </summary>
    public string DenseFromPalette(PalettizedValues values, long[] shape, ChannelLayout layout, PaletteTable table, string output)
    {
        var index = Codes(values.Codes, values.Bits, shape, "c");
        if (values.Groups > 1)
        {
            var offsetShape = shape.Select((_, a) => a == layout.Axis ? layout.Channels : 1L).ToArray();
            var offsets = new int[layout.Channels];
            for (var c = 0; c < offsets.Length; c++) offsets[c] = c / layout.GroupSize * values.PaletteSize;
            index = Op("Add", "idx", [index, Constant("off", offsetShape, (ReadOnlySpan<int>)offsets)]);
        }
        return Named("Gather", output, [Table(values.Table, table, "t"), index]);
    }

    /// <summary>Adds the program to the graph holding <paramref name="weight"/>, before every reader of the weight.</summary>
    public void AddTo(WeightReplacement weight)
    {
        foreach (var tensor in _initializers) weight.Owner.AddInitializer(tensor);
        foreach (var node in _nodes) weight.AddNode(node);
    }

    // A repeated message field: a one-byte tag, the length varint, the message.
    private static long EntryBytes(IMessage message) => 1 + CodedOutputStream.ComputeMessageSize(message);

    private static ValueInfoProto InputFor(TensorProto tensor) =>
        OnnxFactory.TensorValueInfo(tensor.Name, (DataType)tensor.DataType, tensor.Dims.Cast<object?>().ToArray());
}
