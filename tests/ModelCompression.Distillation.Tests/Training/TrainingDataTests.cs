using ModelCompression.Core.Data;
using ModelCompression.Core.Tensors;
using ModelCompression.Distillation.Training;
using ModelCompression.Testing;

namespace ModelCompression.Distillation.Tests.Training;

public sealed class TrainingDataTests
{
    private static readonly Core.Onnx.ModelProto Model = new OnnxBuilder()
        .Input("x", DataType.Float, "N", 2).Node("Identity", ["x"], ["y"]).Output("y", DataType.Float, "N", 2).Build();

    [Fact]
    public void A_subset_of_a_sample_set_keeps_each_samples_label_with_its_inputs()
    {
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray>
        {
            ["x"] = NdArray.Create<float>([4, 2], [0, 0, 1, 1, 2, 2, 3, 3]),
            ["labels"] = NdArray.Create<long>([4], [10, 11, 12, 13]),
        }, Model).Subset([3, 1]);
        var teacher = new Dictionary<string, NdArray> { ["y"] = NdArray.Create<float>([2, 2], [3, 3, 1, 1]) };

        var data = TrainingData.From(samples, teacher);

        Assert.Equal(2, data.Count);
        Assert.Equal([3f, 3f, 1f, 1f], data.Inputs["x"].ToFloats());
        Assert.Equal([13L, 11L], data.Labels);
    }

    [Fact]
    public void Without_labels_there_are_none()
    {
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([2, 2], [0, 0, 1, 1]) }, Model);

        var data = TrainingData.From(samples, new Dictionary<string, NdArray> { ["y"] = NdArray.Create<float>([2, 2], [0, 0, 1, 1]) });

        Assert.Null(data.Labels);
    }

    [Fact]
    public void Arrays_with_different_sample_counts_are_refused()
    {
        var inputs = new Dictionary<string, NdArray> { ["x"] = NdArray.Create<float>([3, 2], new float[6]) };
        var teacher = new Dictionary<string, NdArray> { ["y"] = NdArray.Create<float>([2, 2], new float[4]) };

        var error = Assert.Throws<ArgumentException>(() => new TrainingData(inputs, teacher));
        Assert.Contains("'x' 3, 'y' 2", error.Message);
        Assert.Throws<ArgumentException>(() => new TrainingData(inputs, new Dictionary<string, NdArray> { ["y"] = NdArray.Create<float>([3, 2], new float[6]) }, [1L]));
    }
}
