using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Conversion;
using ModelCompression.Testing;

namespace ModelCompression.Distillation.Tests.Conversion;

/// <summary>What the converter does not cover is refused by name; a malformed graph is an error.</summary>
public sealed class StudentRefusalTests
{
    [Fact]
    public void Operators_not_covered_are_named_once_each_in_graph_order()
    {
        var branch = new OnnxBuilder(13).Input("unused", DataType.Float, 1).Output("unused", DataType.Float, 1).Graph();
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 5, 1, 3).Input("flag", DataType.Bool)
            .Initializer("W", SyntheticInputs.Uniform([1, 8, 3], 1)).Initializer("R", SyntheticInputs.Uniform([1, 8, 2], 2))
            .Node("LSTM", ["x", "W", "R"], ["h"], ("hidden_size", 2L))
            .Node("LSTM", ["x", "W", "R"], ["h2"], ("hidden_size", 2L))
            .Node("If", ["flag"], ["chosen"], ("then_branch", branch), ("else_branch", branch))
            .DomainNode("com.microsoft", 1, "FusedGemm", ["x", "x"], ["fused"])
            .Node("Relu", ["x"], ["y"])
            .Output("y", DataType.Float, 5, 1, 3)
            .Build();

        var conversion = StudentConverter.TryConvert(model, []);

        Assert.False(conversion.Converted);
        Assert.Equal("operators not covered: LSTM, If, com.microsoft.FusedGemm", conversion.Refusal);
    }

    [Fact]
    public void Forms_an_operator_does_not_cover_and_integer_trained_weights_are_named()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 1, 1, 4, 4)
            .Initializer("q", NdArray.Create<sbyte>([2], [1, 2]))
            .Input("volume", DataType.Float, 1, 1, 3, 3, 3)
            .Input("text", DataType.String, 1)
            .Initializer("kernel", SyntheticInputs.Uniform([1, 1, 2, 2, 2], 1))
            .Node("MaxPool", ["x"], ["pooled", "indices"], ("kernel_shape", new long[] { 2, 2 }))
            .Node("Conv", ["volume", "kernel"], ["convolved"])
            .Output("pooled", DataType.Float, 1, 1, 2, 2).Output("convolved", DataType.Float, 1, 1, 2, 2, 2)
            .Build();

        var conversion = StudentConverter.TryConvert(model, ["q"]);

        Assert.Equal("constructs not covered: MaxPool with an Indices output, Conv with a 3-D window, input 'text' of type String, trained weight 'q' of type Int8 (only float32 trains)", conversion.Refusal);
    }

    [Fact]
    public void A_trained_weight_the_graph_does_not_have_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => StudentConverter.TryConvert(TestModels.Mlp(4, 6, 3, 1), ["no-such-weight"]));
    }

    [Fact]
    public void A_node_reading_an_undefined_value_is_malformed()
    {
        var model = new OnnxBuilder(13)
            .Input("x", DataType.Float, 2)
            .Node("Add", ["x", "nowhere"], ["y"])
            .Output("y", DataType.Float, 2)
            .Build();
        var error = Assert.Throws<InvalidDataException>(() => StudentConverter.TryConvert(model, []));
        Assert.Contains("nowhere", error.Message);
    }
}
