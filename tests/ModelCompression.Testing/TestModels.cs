using ModelCompression.Core.Onnx;

namespace ModelCompression.Testing;

/// <summary>Small models many tests share.</summary>
public static class TestModels
{
    /// <summary>
    /// y = Relu(x·A)·B (nodes layer_a, relu, layer_b; x [N, features], y [N, classes]) with weights uniform in
    /// [-0.5, 0.5) from <paramref name="seed"/>: a classifier every technique has a layer of to work on.
    /// </summary>
    public static ModelProto Mlp(int features, int hidden, int classes, int seed)
    {
        var random = new Random(seed);
        float[] Weights(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        return new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", features)
            .Initializer("A", Weights(features * hidden), features, hidden)
            .Initializer("B", Weights(hidden * classes), hidden, classes)
            .Node("MatMul", ["x", "A"], ["h"], "layer_a")
            .Node("Relu", ["h"], ["r"], "relu")
            .Node("MatMul", ["r", "B"], ["y"], "layer_b")
            .Output("y", DataType.Float, "N", classes)
            .Build();
    }
}
