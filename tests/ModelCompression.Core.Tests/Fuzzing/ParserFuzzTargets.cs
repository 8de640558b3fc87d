using System.Text;
using Google.Protobuf;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;
using ModelCompression.Testing.Fuzzing;

namespace ModelCompression.Core.Tests.Fuzzing;

/// <summary>The parsers of untrusted input, each as a <see cref="FuzzTarget"/> with valid seed inputs and a dictionary of its format's tokens.</summary>
internal static class ParserFuzzTargets
{
    /// <summary>
    /// An .onnx file parsed and its external data inlined, in a model folder holding genuine data
    /// files, a link to a secret file outside the folder, and that secret beside it. Reading the
    /// secret counts as a crash, whatever the parser then does.
    /// </summary>
    public static FuzzTarget OnnxModel(TempDirectory dir)
    {
        var folder = dir.Combine("model");
        Directory.CreateDirectory(folder);
        var secret = Enumerable.Repeat("SECRET!!"u8.ToArray(), 32).SelectMany(b => b).ToArray();
        File.WriteAllBytes(dir.Combine("secret.bin"), secret);
        File.CreateSymbolicLink(Path.Combine(folder, "link.bin"), "../secret.bin");
        File.WriteAllBytes(Path.Combine(folder, "weights.bin"), RawNpy.DataOf(Enumerable.Range(0, 64).Select(i => i * 0.25f).ToArray()));
        var modelPath = Path.Combine(folder, "model.onnx");

        var shared = LayeredModel();
        OnnxModelFile.SaveWithExternalData(shared, modelPath, "shared.bin", threshold: 16);
        byte[][] seeds =
        [
            // Hostile seeds too: their mutations (other offsets, lengths, dims) must be refused as well.
            ExternalWeightModel.Create("../secret.bin").ToByteArray(),
            ExternalWeightModel.Create("link.bin", "0", "64").ToByteArray(),
            ExternalWeightModel.Create(dir.Combine("secret.bin"), "64", "64").ToByteArray(),
            ExternalWeightModel.Create("weights.bin", "0", "64").ToByteArray(),
            ExternalWeightModel.Create("weights.bin", offset: "128").ToByteArray(),
            File.ReadAllBytes(modelPath),
            BranchModel().ToByteArray(),
            shared.ToByteArray(),
        ];
        var strings = new ByteMutator(
            "weights.bin", "shared.bin", "link.bin", "../secret.bin", "/etc/passwd", "", ".", "..", "model/../weights.bin", "\0",
            "0", "8", "64", "65", "-1", "4096", "9223372036854775807", "18446744073709551615", "1e3", " 1", "0x10",
            "location", "offset", "length", "checksum");
        var raw = new ByteMutator();
        return new FuzzTarget("onnx-model", seeds, new ProtobufMutator(strings, raw), bytes =>
        {
            var model = OnnxModelFile.Parse(bytes, modelPath);
            ExternalData.Inline(model, modelPath);
            if (OnnxWalk.Tensors(model).Any(t => t.RawData.Span.IndexOf("SECRET!!"u8) >= 0))
                throw new InvalidOperationException("A tensor was loaded from the secret file outside the model's folder.");
            return null;
        }, FuzzTarget.CompressionCode);
    }

    /// <summary>An .npz opened and bound to a one-input model (x float [N, 4], optional labels), as the worker loads ValidationData.</summary>
    public static FuzzTarget NpzData(TempDirectory dir)
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 4)
            .Node("Identity", ["x"], ["y"])
            .Output("y", DataType.Float, "N", 4)
            .Build();
        var x = NdArray.Create<float>([8, 4], Enumerable.Range(0, 32).Select(i => i / 8f).ToArray());
        var labels = NdArray.Create<long>([8], [0, 1, 2, 3, 0, 1, 2, 3]);
        byte[][] seeds =
        [
            Npz([new("x", x)], compressed: false),
            Npz([new("x", x), new("labels", labels)], compressed: true),
            Npz([new("labels", labels), new("x", x.Reshape([8, 1, 4]))], compressed: false),
        ];
        var npy = new ByteMutator(NpyTokens);
        var zip = new ZipMutator(npy, new ByteMutator(), "x.npy", "labels.npy", "y.npy", "x", "dir/", "x.npy/", "../x.npy");
        var path = dir.Combine("data.npz");
        return new FuzzTarget("npz-data", seeds, zip, bytes =>
        {
            File.WriteAllBytes(path, bytes);
            using var archive = NpzArchive.Open(path, DataSetting.ValidationData);
            SampleSet.Bind(archive, model);
            return null;
        }, FuzzTarget.CompressionCode);
    }

    /// <summary>An .npy header (magic, version, length, Python dict) read as the .npz reader reads each entry's.</summary>
    public static FuzzTarget NpyHeader()
    {
        NdArray[] arrays =
        [
            NdArray.Create<float>([2, 3], new float[6]),
            NdArray.Create<long>([], [7]),
            NdArray.Create<bool>([0, 5], []),
            NdArray.Create<Half>([1, 1, 2], new Half[2]),
        ];
        var seeds = arrays.Select(a =>
        {
            var stream = new MemoryStream();
            Npy.Write(stream, a);
            return stream.ToArray();
        }).Append(RawNpy.Bytes("{'descr': [('a', '<f4'), ('b', '<i8', (2,))], 'fortran_order': False, 'shape': (3,), }", [])).ToArray();
        return new FuzzTarget("npy-header", seeds, new ByteMutator(NpyTokens), bytes =>
        {
            Npy.ReadHeader(new MemoryStream(bytes), "fuzz.npz", "x");
            return null;
        }, FuzzTarget.CompressionCode);
    }

    /// <summary>
    /// A signature sidecar read as the generator reads it. Its contract is its own: a malformed sidecar is a
    /// <see cref="FormatException"/>, which the generator reports as MC7001.
    /// </summary>
    public static FuzzTarget SignatureSidecarText() =>
        new("signature-sidecar", SidecarCorpus.Seeds, SidecarCorpus.Mutator, bytes =>
        {
            SignatureSidecar.Read(Encoding.UTF8.GetString(bytes));
            return null;
        }, e => e is FormatException ? "MC7001" : null);

    private static readonly string[] NpyTokens =
    [
        "(", ")", "{", "}", "[", "]", "'", "\"", ",", ":", " ", "\n", "\\", "True", "False", "None",
        "'descr'", "'shape'", "'fortran_order'", "'<f4'", "'<i8'", "'|b1'", "'>f4'", "'O'", "'<U3'",
        "-1", "0", "1", "L", "2147483648", "9223372036854775807", "99999999999999999999", "(100000000, 4)",
    ];

    private static byte[] Npz(KeyValuePair<string, NdArray>[] arrays, bool compressed)
    {
        using var dir = new TempDirectory("mc-fuzz-seed");
        var path = dir.Combine("seed.npz");
        NpzArchive.Write(path, arrays, compressed);
        return File.ReadAllBytes(path);
    }

    private static ModelProto LayeredModel()
    {
        var random = new Random(1);
        float[] Weights(int n) => Enumerable.Range(0, n).Select(_ => (float)random.NextDouble()).ToArray();
        return new OnnxBuilder()
            .Input("x", DataType.Float, "N", 4)
            .Initializer("a", Weights(32), 4, 8)
            .Initializer("b", Weights(8), 8)
            .Initializer("c", Weights(16), 8, 2)
            .Node("MatMul", ["x", "a"], ["h"])
            .Node("Add", ["h", "b"], ["hb"])
            .Node("MatMul", ["hb", "c"], ["y"])
            .Output("y", DataType.Float, "N", 2)
            .Build();
    }

    // External data inside an If branch: the walk into subgraphs is part of what is fuzzed.
    private static ModelProto BranchModel()
    {
        var branch = new OnnxBuilder()
            .Initializer("k", new float[16], 16)
            .Node("Identity", ["k"], ["out"])
            .Output("out", DataType.Float, 16)
            .Graph();
        var k = branch.Initializer.Single();
        k.ClearRawData();
        k.DataLocation = TensorProto.Types.DataLocation.External;
        k.ExternalData.Add(new StringStringEntryProto { Key = ExternalData.LocationKey, Value = "weights.bin" });
        k.ExternalData.Add(new StringStringEntryProto { Key = ExternalData.OffsetKey, Value = "64" });
        return new OnnxBuilder()
            .Input("c", DataType.Bool)
            .Node("If", ["c"], ["y"], ("then_branch", branch), ("else_branch", branch))
            .Output("y", DataType.Float, 16)
            .Build();
    }
}
