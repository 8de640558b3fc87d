using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Quantization;

/// <summary>Models and checks shared by the weight quantization tests.</summary>
internal static class QuantizationTestKit
{
    public static float[] Values(int count, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();
    }

    public static NdArray Longs(params long[] values) => NdArray.Create<long>([values.Length], values);

    public static NdArray Condition(bool value) => NdArray.Create<bool>([], [value]);

    /// <summary>
    /// x [2, 1, 8] and cond → an If whose then branch runs an LSTM with weights of the main graph, and whose else branch
    /// runs a GRU with weights of its own: the LSTM's W is made inside the branch from "w_ih" [32, 8] by Slice/Concat
    /// (the two halves swapped, as exporters reorder gates) and Unsqueeze; its R ("lstm.r") and the GRU's W and R are
    /// read directly. Output y [1, 1, 8] (the last hidden state).
    /// </summary>
    public static ModelProto RecurrentIfModel()
    {
        var thenBranch = new OnnxBuilder()
            .Initializer("zero", Longs(0)).Initializer("half", Longs(16)).Initializer("full", Longs(32))
            .Node("Slice", ["w_ih", "zero", "half", "zero"], ["first"], "slice_first")
            .Node("Slice", ["w_ih", "half", "full", "zero"], ["second"], "slice_second")
            .Node("Concat", ["second", "first"], ["reordered"], "reorder", ("axis", 0))
            .Node("Unsqueeze", ["reordered", "zero"], ["lstm.w"], "add_direction")
            .Node("LSTM", ["x", "lstm.w", "lstm.r"], ["lstm.y", "t"], "lstm", ("hidden_size", 8))
            .Output("t", DataType.Float, 1, 1, 8)
            .Graph();
        var elseBranch = new OnnxBuilder()
            .Initializer("gru.w", Values(24 * 8, 13, 0.5f), 1, 24, 8)
            .Initializer("gru.r", Values(24 * 8, 14, 0.5f), 1, 24, 8)
            .Node("GRU", ["x", "gru.w", "gru.r"], ["gru.y", "e"], "gru", ("hidden_size", 8))
            .Output("e", DataType.Float, 1, 1, 8)
            .Graph();
        return new OnnxBuilder()
            .Input("x", DataType.Float, 2, 1, 8)
            .Input("cond", DataType.Bool)
            .Initializer("w_ih", Values(32 * 8, 11, 0.5f), 32, 8)
            .Initializer("lstm.r", Values(32 * 8, 12, 0.5f), 1, 32, 8)
            .Node("If", ["cond"], ["y"], "branch", ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Output("y", DataType.Float, 1, 1, 8)
            .Build();
    }

    public static Dictionary<string, NdArray> RecurrentInput(bool condition) =>
        new() { ["x"] = SyntheticInputs.Uniform([2, 1, 8], 21), ["cond"] = Condition(condition) };

    public static GraphProto Branch(ModelProto model, string name) =>
        model.Graph.Node.Single(n => n.OpType == "If").Attribute.Single(a => a.Name == name).G;

    /// <summary>The largest |difference| between the two models' first outputs, and the largest |value| of the original's.</summary>
    public static (double MaxError, double MaxMagnitude) Compare(ModelProto original, ModelProto rewritten, IReadOnlyDictionary<string, NdArray> input)
    {
        var expected = ModelEquivalence.Run(original, input).Values.First().ToFloats();
        var actual = ModelEquivalence.Run(rewritten, input).Values.First().ToFloats();
        Assert.Equal(expected.Length, actual.Length);
        return (expected.Zip(actual, (e, a) => (double)Math.Abs(e - a)).Max(), expected.Max(v => (double)Math.Abs(v)));
    }

    /// <summary>The model as ONNX Runtime runs it after its load-time graph optimisations at <paramref name="level"/>.</summary>
    public static ModelProto AsOptimizedByOnnxRuntime(ModelProto model, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_BASIC)
    {
        using var directory = new TempDirectory();
        var path = directory.Combine("optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = level, OptimizedModelFilePath = path })
        using (new InferenceSession(model.ToByteArray(), options))
        {
        }
        return OnnxModelFile.Load(path);
    }

    public static int CountOps(ModelProto model, string opType) => OnnxWalk.Graphs(model).SelectMany(g => g.Node).Count(n => n.OpType == opType);
}
