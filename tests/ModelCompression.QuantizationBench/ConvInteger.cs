using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;

namespace ModelCompression.QuantizationBench;

/// <summary>
/// Whether dynamic int8 should cover Conv: a float 3×3 Conv against DynamicQuantizeLinear → ConvInteger → Cast → Mul → Add
/// on layers the size of fashion-cnn's, with int8 and with uint8 (zero point 128) weight codes.
/// </summary>
internal static class ConvInteger
{
    public static void Print()
    {
        Console.WriteLine("| layer | weights | fp32 | ConvInteger | ratio | ORT runs |");
        Console.WriteLine("|---|---|---:|---:|---:|---|");
        foreach (var (cin, cout, size) in new[] { (1, 32, 28), (32, 32, 28), (32, 64, 14), (64, 64, 14) })
            foreach (var signed in new[] { true, false })
            {
                var (fp32, integer) = Models(cin, cout, size, signed);
                var sample = new Dictionary<string, NdArray> { ["x"] = Uniform([1, cin, size, size], 3) };
                var c = LatencyMeter.Compare(fp32, "fp32", integer, "ConvInteger", sample, QuantizationTable.Latency);
                Console.WriteLine($"| {cin}→{cout} 3×3 @{size}×{size} | {(signed ? "int8" : "uint8")} | {c.Baseline.TotalMicroseconds:0.0} µs | {c.Candidate.TotalMicroseconds:0.0} µs | {c.Ratio:0.00}× | {string.Join(", ", DynamicForms.OptimizedOps(integer))} |");
            }
    }

    private static (ModelProto Fp32, ModelProto Integer) Models(int cin, int cout, int size, bool signed)
    {
        var w = Uniform([cout, cin, 3, 3], 1, -0.2f, 0.2f).ToFloats();
        var bias = Uniform([cout], 2).ToFloats();
        var scale = w.Max(Math.Abs) / 127;
        var attributes = new (string, object)[] { ("kernel_shape", new[] { 3, 3 }), ("pads", new[] { 1, 1, 1, 1 }) };
        var fp32 = Model(cin, cout, size, [("w", NdArray.Create<float>([cout, cin, 3, 3], w)), ("b", NdArray.Create<float>([cout], bias))],
            [OnnxFactory.Node("Conv", ["x", "w", "b"], ["y"], "conv", attributes: attributes)]);
        var codes = signed
            ? NdArray.Create<sbyte>([cout, cin, 3, 3], w.Select(v => (sbyte)Math.Round(v / scale)).ToArray())
            : NdArray.Create<byte>([cout, cin, 3, 3], w.Select(v => (byte)(Math.Round(v / scale) + 128)).ToArray());
        var initializers = new List<(string, NdArray)> { ("wq", codes), ("ws", NdArray.Create<float>([], [scale])), ("b", NdArray.Create<float>([cout, 1, 1], bias)) };
        if (!signed) initializers.Add(("wz", NdArray.Create<byte>([], [128])));
        var integer = Model(cin, cout, size, initializers,
        [
            OnnxFactory.Node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"], "quantize"),
            OnnxFactory.Node("ConvInteger", signed ? ["xq", "wq", "xz"] : ["xq", "wq", "xz", "wz"], ["yi"], "conv", attributes: attributes),
            OnnxFactory.Node("Cast", ["yi"], ["yf"], "cast", attributes: ("to", (int)DataType.Float)),
            OnnxFactory.Node("Mul", ["xs", "ws"], ["s"], "scales"),
            OnnxFactory.Node("Mul", ["yf", "s"], ["ys"], "rescale"),
            OnnxFactory.Node("Add", ["ys", "b"], ["y"], "bias"),
        ]);
        return (fp32, integer);
    }

    private static ModelProto Model(int cin, int cout, int size, IEnumerable<(string Name, NdArray Value)> initializers, IEnumerable<NodeProto> nodes)
    {
        var graph = new GraphProto { Name = "conv" };
        graph.Input.Add(OnnxFactory.TensorValueInfo("x", DataType.Float, 1, cin, size, size));
        graph.Output.Add(OnnxFactory.TensorValueInfo("y", DataType.Float, 1, cout, size, size));
        foreach (var (name, value) in initializers) graph.Initializer.Add(TensorProtoConverter.ToTensorProto(value, name));
        graph.Node.AddRange(nodes);
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return model;
    }

    private static NdArray Uniform(long[] shape, int seed, float low = -1, float high = 1)
    {
        var random = new Random(seed);
        var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
        for (var i = 0; i < values.Length; i++) values[i] = low + (float)random.NextDouble() * (high - low);
        return NdArray.Create<float>(shape, values);
    }
}
