using System.Diagnostics;
using Google.Protobuf;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Tensors;

namespace ModelCompression.PaletteBench;

/// <summary>
/// ONNX's own sparse storage against the mask form: fashion-cnn's big Gemm weight pruned, then stored as a
/// sparse_initializer (values + linear indices int64 / int32, or [nnz, 2] coordinates int16), which ONNX Runtime turns
/// into a dense initializer when it loads the model; or in the mask form of prune-weights (float32 values).
/// </summary>
internal static class SparseInitializers
{
    private const string BigGemm = "/7/Gemm";

    public static void Run(BenchModel bench)
    {
        bench.Header($"ONNX sparse_initializer vs the mask form, {BigGemm} pruned, float32 values");
        foreach (var sparsity in new[] { 0.5, 0.75, 0.9 })
        {
            var clock = Stopwatch.StartNew();
            var pass = new MagnitudePruning(SparsityTarget.Layers(new Dictionary<string, double> { [BigGemm] = sparsity }));
            bench.Row($"{sparsity:P0} sparse, mask form", pass);
            foreach (var (label, indexType) in new[] { ("linear int64 indices", DataType.Int64), ("linear int32 indices", DataType.Int32), ("[nnz, 2] int16 coordinates", DataType.Int16) })
            {
                clock.Restart();
                var model = bench.Lossless.Clone();
                var name = model.Graph.Node.Single(n => n.Name == BigGemm).Input[1];
                var dense = model.Graph.Initializer.Single(t => t.Name == name);
                var pruned = MagnitudeThreshold.Prune([TensorProtoConverter.ToNdArray(dense).ToFloats()], sparsity)[0];
                model.Graph.Initializer.Remove(dense);
                model.Graph.SparseInitializer.Add(Sparse(name, dense.Dims.ToArray(), pruned, indexType));
                try
                {
                    bench.Row($"{sparsity:P0} sparse, sparse_initializer, {label}", model,
                        $"{SparseEncoding.SparseInitializerBitsPerWeight(sparsity, indexType == DataType.Int64 ? 64 : 32):0.0} bits/weight", clock.Elapsed);
                }
                catch (Exception e)
                {
                    Console.WriteLine($"| {sparsity:P0} sparse, sparse_initializer, {label} | {OnnxModelFile.SizeOf(model):N0} | not loaded: {e.Message.Split('\n')[0]} ||||||||");
                }
            }
        }
    }

    private static SparseTensorProto Sparse(string name, long[] shape, float[] values, DataType indexType)
    {
        var positions = Enumerable.Range(0, values.Length).Where(i => values[i] != 0f).ToArray();
        var sparse = new SparseTensorProto { Values = TensorProtoConverter.ToTensorProto(NdArray.Create<float>([positions.Length], positions.Select(i => values[i]).ToArray()), name) };
        sparse.Dims.AddRange(shape);
        sparse.Indices = indexType switch
        {
            DataType.Int64 => TensorProtoConverter.ToTensorProto(NdArray.Create<long>([positions.Length], positions.Select(i => (long)i).ToArray()), ""),
            DataType.Int32 => TensorProtoConverter.ToTensorProto(NdArray.Create<int>([positions.Length], positions), ""),
            _ => TensorProtoConverter.ToTensorProto(NdArray.Create<short>([positions.Length, 2],
                positions.SelectMany(i => new[] { (short)(i / shape[1]), (short)(i % shape[1]) }).ToArray()), ""),
        };
        return sparse;
    }
}
