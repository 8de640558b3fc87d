using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Conversion;
using ModelCompression.Testing;
using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Tests.Conversion;

/// <summary>What the trainer relies on: parameters, gradients through every op, weight transforms, disposal.</summary>
public sealed class StudentTrainingTests
{
    private static readonly NdArray Batch = SyntheticInputs.Uniform([5, 4], seed: 7);

    [Fact]
    public void Trained_weights_are_parameters_and_the_rest_stays_fixed()
    {
        using var student = StudentRuns.Convert(TestModels.Mlp(4, 6, 3, seed: 1), "A");

        Assert.Equal(["A"], student.Parameters.Keys);
        Assert.True(student.Parameters["A"].requires_grad);
        Assert.Equal(ScalarType.Float32, student.Parameters["A"].dtype);
        Assert.Equal(["x"], student.InputNames);
        Assert.Equal(["y"], student.OutputNames);
    }

    [Fact]
    public void The_gradient_of_a_MatMul_weight_is_the_batch_sum_of_its_inputs()
    {
        // y = x·A without activation: d(Σy)/dA[i, j] = Σ_n x[n, i] for every j.
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", 4)
            .Initializer("A", SyntheticInputs.Uniform([4, 3], seed: 2))
            .Node("MatMul", ["x", "A"], ["y"])
            .Output("y", DataType.Float, "N", 3)
            .Build();
        using var student = StudentRuns.Convert(model, "A");
        using var scope = NewDisposeScope();

        student.Forward(new Dictionary<string, Tensor> { ["x"] = TensorValues.ToTensor(Batch) })[0].sum().backward();

        var gradient = student.Parameters["A"].grad!.data<float>().ToArray();
        var x = Batch.ToFloats();
        for (var i = 0; i < 4; i++)
        {
            var expected = Enumerable.Range(0, 5).Sum(n => x[n * 4 + i]);
            for (var j = 0; j < 3; j++) Assert.Equal(expected, gradient[i * 3 + j], 4);
        }
    }

    [Fact]
    public void Gradients_reach_every_trained_weight_through_conv_batchnorm_pooling_and_gemm()
    {
        // Weights in Constant nodes (the ppocr form) and initializers both train.
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", 2, 6, 6)
            .Node("Constant", [], ["w"], ("value", SyntheticInputs.Uniform([4, 2, 3, 3], seed: 3)))
            .Initializer("scale", [1f, 0.5f, 2f, 1.5f], 4).Initializer("bias", [0.1f, 0f, -0.2f, 0.3f], 4)
            .Initializer("mean", [0f, 0.1f, 0f, -0.1f], 4).Initializer("var", [1f, 2f, 0.5f, 1f], 4)
            .Initializer("g", SyntheticInputs.Uniform([3, 4 * 3 * 3], seed: 4)).Initializer("c", [0f, 0f, 0f], 3)
            .Node("Conv", ["x", "w"], ["conv"], ("pads", new long[] { 1, 1, 1, 1 }))
            .Node("BatchNormalization", ["conv", "scale", "bias", "mean", "var"], ["bn"])
            .Node("HardSwish", ["bn"], ["act"])
            .Node("MaxPool", ["act"], ["pool"], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
            .Node("Flatten", ["pool"], ["flat"])
            .Node("Gemm", ["flat", "g", "c"], ["logits"], ("transB", 1L))
            .Node("Softmax", ["logits"], ["y"])
            .Output("y", DataType.Float, "N", 3)
            .Build();
        string[] trained = ["w", "scale", "bias", "g", "c"];
        using var student = StudentRuns.Convert(model, trained);
        using var scope = NewDisposeScope();

        var y = student.Forward(new Dictionary<string, Tensor> { ["x"] = torch.randn(3, 2, 6, 6, generator: new Generator(5)) })[0];
        // A loss whose gradient does not vanish through the softmax: the log-probability of class 0.
        y.select(1, 0).log().sum().backward();

        foreach (var name in trained)
        {
            var gradient = student.Parameters[name].grad;
            Assert.NotNull(gradient);
            Assert.True(gradient.abs().max().item<float>() > 0, $"{name} got no gradient");
        }
    }

    [Fact]
    public void A_weight_transform_replaces_the_weight_in_forward_and_passes_its_gradient_back()
    {
        var model = TestModels.Mlp(4, 6, 3, seed: 1);
        using var student = StudentRuns.Convert(model, "A", "B");
        var inputs = new Dictionary<string, NdArray> { ["x"] = Batch };
        var plain = StudentRuns.Run(student, inputs)["y"].ToFloats();

        // Doubling A doubles the ReLU layer's output and so the logits (ReLU is positively homogeneous).
        student.SetWeightTransform("A", a => a * 2);
        var doubled = StudentRuns.Run(student, inputs)["y"].ToFloats();
        for (var i = 0; i < plain.Length; i++) Assert.Equal(2 * plain[i], doubled[i], 5);

        // A straight-through rounding to a 1/8 grid (fake quantization): forward sees rounded weights, backward the identity.
        student.SetWeightTransform("A", a => a + ((a * 8).round() / 8 - a).detach());
        using (NewDisposeScope())
        {
            student.Forward(new Dictionary<string, Tensor> { ["x"] = TensorValues.ToTensor(Batch) })[0].sum().backward();
            Assert.True(student.Parameters["A"].grad!.abs().max().item<float>() > 0);
        }

        Assert.NotEqual(plain, StudentRuns.Run(student, inputs)["y"].ToFloats());

        student.SetWeightTransform("A", null);
        Assert.Equal(plain, StudentRuns.Run(student, inputs)["y"].ToFloats());
        Assert.Throws<ArgumentException>(() => student.SetWeightTransform("x", a => a));
    }

    [Fact]
    public void A_missing_input_is_an_argument_error()
    {
        using var student = StudentRuns.Convert(TestModels.Mlp(4, 6, 3, seed: 1));
        Assert.Throws<ArgumentException>(() => student.Forward(new Dictionary<string, Tensor>()));
    }

    [Fact]
    public void Outputs_are_the_callers_to_dispose_even_when_they_are_a_graph_input_and_disposal_frees_the_weights()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2)
            .Initializer("w", [1f, 2f], 2)
            .Node("Identity", ["x"], ["x_again"])
            .Node("Mul", ["x", "w"], ["y"])
            .Output("x_again", DataType.Float, 2).Output("w", DataType.Float, 2).Output("y", DataType.Float, 2)
            .Build();
        var student = StudentRuns.Convert(model, "w");
        using var x = torch.tensor(new[] { 3f, 4f });

        foreach (var output in student.Forward(new Dictionary<string, Tensor> { ["x"] = x })) output.Dispose();
        Assert.Equal([3f, 8f], StudentRuns.Run(student, new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([2], [3f, 4f]) })["y"].ToFloats());
        Assert.Equal([3f, 4f], x.data<float>().ToArray());

        var parameter = student.Parameters["w"];
        student.Dispose();
        Assert.True(parameter.IsInvalid);
        Assert.Throws<ObjectDisposedException>(() => student.Forward(new Dictionary<string, Tensor> { ["x"] = x }));
    }
}
