using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Training;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Tests.Training;

/// <summary>
/// A hand-written segmentation-like student: x [N, 1, H, W] → Conv 3×3 (padding 1) → Relu → Conv 1×1 → class scores per
/// pixel, transposed to [N, H, W, C] (class axis last). Weights named like ONNX initializers, Conv layout [O, I, kh, kw].
/// </summary>
internal sealed class ConvStudent : IStudent
{
    public const string Input = "image";
    public const string Output = "scores";

    private readonly Dictionary<string, TorchSharp.Modules.Parameter> _parameters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Func<Tensor, Tensor>> _transforms = new(StringComparer.Ordinal);

    public ConvStudent(IReadOnlyDictionary<string, NdArray> weights)
    {
        ModelCompression.Distillation.Native.TorchRuntime.EnsureLoaded();
        foreach (var (name, values) in weights)
            _parameters[name] = new TorchSharp.Modules.Parameter(tensor(values.ToFloats(), values.Shape.ToArray()), requires_grad: true);
    }

    public IReadOnlyList<string> InputNames => [Input];

    public IReadOnlyList<string> OutputNames => [Output];

    public IReadOnlyDictionary<string, TorchSharp.Modules.Parameter> Parameters => _parameters;

    public static Dictionary<string, NdArray> RandomWeights(int channels, int classes, int seed)
    {
        var random = new Random(seed);
        return new(StringComparer.Ordinal)
        {
            ["conv1.weight"] = MlpStudent.Normal(random, [channels, 1, 3, 3], 1 / 3.0),
            ["conv1.bias"] = MlpStudent.Normal(random, [channels], 0.1),
            ["conv2.weight"] = MlpStudent.Normal(random, [classes, channels, 1, 1], 4 / Math.Sqrt(channels)),
            ["conv2.bias"] = MlpStudent.Normal(random, [classes], 0.1),
        };
    }

    public IReadOnlyList<Tensor> Forward(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var hidden = nn.functional.relu(nn.functional.conv2d(inputs[Input], Read("conv1.weight"), Read("conv1.bias"), padding: [1, 1]));
        var scores = nn.functional.conv2d(hidden, Read("conv2.weight"), Read("conv2.bias"));
        return [scores.permute(0, 2, 3, 1)];
    }

    public void SetWeightTransform(string initializer, Func<Tensor, Tensor>? transform)
    {
        if (transform is null) _transforms.Remove(initializer);
        else _transforms[initializer] = transform;
    }

    public IReadOnlyDictionary<string, NdArray> Run(IReadOnlyDictionary<string, NdArray> inputs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var feed = inputs.ToDictionary(i => i.Key, i => tensor(i.Value.ToFloats(), i.Value.Shape.ToArray()));
        var output = Forward(feed)[0].contiguous();
        return new Dictionary<string, NdArray> { [Output] = NdArray.Create<float>(output.shape, output.data<float>().ToArray()) };
    }

    public void Dispose()
    {
        foreach (var parameter in _parameters.Values) parameter.Dispose();
    }

    private Tensor Read(string name) =>
        _transforms.TryGetValue(name, out var transform) ? transform(_parameters[name]) : _parameters[name];
}
