using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Tests.Training;

/// <summary>
/// A hand-written student: y = fc2(relu(fc1(x))) (Gemm with transB: weights [out, in]), optionally ending in a Softmax,
/// its weights named like ONNX initializers.
/// </summary>
internal sealed class MlpStudent : IStudent
{
    public const string Input = "x";
    public const string Output = "y";
    public static readonly string[] Matrices = ["fc1.weight", "fc2.weight"];

    private readonly Dictionary<string, TorchSharp.Modules.Parameter> _parameters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<Tensor, Tensor>> _transforms = new(StringComparer.Ordinal);
    private readonly bool _softmax;

    public MlpStudent(IReadOnlyDictionary<string, NdArray> weights, bool softmax = false)
    {
        TorchRuntime();
        foreach (var (name, values) in weights)
            _parameters[name] = new TorchSharp.Modules.Parameter(tensor(values.ToFloats(), values.Shape.ToArray()), requires_grad: true);
        _softmax = softmax;
    }

    public IReadOnlyList<string> InputNames => [Input];

    public IReadOnlyList<string> OutputNames => [Output];

    public IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> Parameters => _parameters;

    public int TransformCount => _transforms.Count;

    public IReadOnlyList<Tensor> Forward(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var hidden = nn.functional.relu(nn.functional.linear(inputs[Input], Read("fc1.weight"), Read("fc1.bias")));
        var scores = nn.functional.linear(hidden, Read("fc2.weight"), Read("fc2.bias"));
        return [_softmax ? nn.functional.softmax(scores, -1) : scores];
    }

    public void SetWeightTransform(string initializer, Func<Tensor, Tensor>? transform)
    {
        if (transform is null) _transforms.Remove(initializer);
        else _transforms[initializer] = transform;
    }

    public void Dispose()
    {
        foreach (var parameter in _parameters.Values) parameter.Dispose();
    }

    /// <summary>Random weights with a fixed seed (scaled 1/√fan-in, so activations keep unit size).</summary>
    public static Dictionary<string, NdArray> RandomWeights(int inputs, int hidden, int classes, int seed)
    {
        var random = new Random(seed);
        return new(StringComparer.Ordinal)
        {
            ["fc1.weight"] = Normal(random, [hidden, inputs], 1 / Math.Sqrt(inputs)),
            ["fc1.bias"] = Normal(random, [hidden], 0.1),
            ["fc2.weight"] = Normal(random, [classes, hidden], 4 / Math.Sqrt(hidden)), // confident class scores, as a trained classifier's
            ["fc2.bias"] = Normal(random, [classes], 0.1),
        };
    }

    public static NdArray Normal(Random random, long[] shape, double scale)
    {
        var values = new float[shape.Aggregate(1L, (a, b) => a * b)];
        for (var i = 0; i < values.Length; i++)
            values[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return NdArray.Create<float>(shape, values);
    }

    /// <summary>This model's outputs on <paramref name="inputs"/>, with its weight transforms, as arrays.</summary>
    public IReadOnlyDictionary<string, NdArray> Run(IReadOnlyDictionary<string, NdArray> inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var feed = inputs.ToDictionary(i => i.Key, i => tensor(i.Value.ToFloats(), i.Value.Shape.ToArray()));
        var output = Forward(feed)[0].contiguous();
        return new Dictionary<string, NdArray> { [Output] = NdArray.Create<float>(output.shape, output.data<float>().ToArray()) };
    }

    private Tensor Read(string name) =>
        _transforms.TryGetValue(name, out var transform) ? transform(_parameters[name]) : _parameters[name];

    private static void TorchRuntime() => global::ModelCompression.Distillation.Native.TorchRuntime.EnsureLoaded();
}
