using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Data;

public class SampleSetTests
{
    // x: float [N, 3] → y = Identity(x): a model with a free batch axis.
    private static ModelProto BatchModel() => new OnnxBuilder()
        .Input("x", DataType.Float, "N", 3L)
        .Node("Identity", ["x"], ["y"])
        .Output("y", DataType.Float, "N", 3L)
        .Build();

    // Like silero-vad: audio [1, 4] (fixed batch of one), a state [2, 1, 3] and an int64 scalar.
    private static ModelProto StreamingModel() => new OnnxBuilder()
        .Input("audio", DataType.Float, 1L, 4L)
        .Input("state", DataType.Float, 2L, null, 3L)
        .Input("sr", DataType.Int64)
        .Node("Identity", ["state"], ["stateN"])
        .Node("ReduceSum", ["audio"], ["energy"], ("keepdims", 1L))
        .Output("energy", DataType.Float, 1L, 1L)
        .Output("stateN", DataType.Float, 2L, null, 3L)
        .Build();

    private static NdArray Floats(long[] shape) =>
        NdArray.Create<float>(shape, Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(i => (float)i).ToArray());

    private static NdArray Labels(params long[] values) => NdArray.Create<long>([values.Length], values);

    [Fact]
    public void An_array_of_the_inputs_rank_is_sliced_along_its_batch_axis()
    {
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([5, 3]), ["labels"] = Labels(0, 1, 2, 1, 0) }, BatchModel());

        Assert.Equal(5, samples.Count);
        Assert.True(samples.CanBatch);
        Assert.True(samples.HasLabels);
        Assert.Equal(2, samples.Label(2));
        var sample = samples.Sample(2)["x"];
        Assert.Equal(new long[] { 1, 3 }, sample.Shape.ToArray());
        Assert.Equal(new[] { 6f, 7f, 8f }, sample.ToFloats());
        var batch = samples.Batch(1, 3)["x"];
        Assert.Equal(new long[] { 3, 3 }, batch.Shape.ToArray());
        Assert.Equal(Enumerable.Range(3, 9).Select(i => (float)i), batch.ToFloats());
    }

    [Fact]
    public void An_array_of_rank_plus_one_feeds_each_sample_as_is_and_is_never_batched()
    {
        var arrays = new Dictionary<string, NdArray>
        {
            ["audio"] = Floats([3, 1, 4]),
            ["state"] = Floats([3, 2, 1, 3]),
            ["sr"] = NdArray.Create<long>([3], [16000, 8000, 16000]),
        };

        var samples = SampleSet.FromArrays("vad.npz", arrays, StreamingModel());

        Assert.Equal(3, samples.Count);
        Assert.False(samples.CanBatch);
        Assert.False(samples.HasLabels);
        var sample = samples.Sample(1);
        Assert.Equal(new long[] { 1, 4 }, sample["audio"].Shape.ToArray());
        Assert.Equal(new[] { 4f, 5f, 6f, 7f }, sample["audio"].ToFloats());
        Assert.Equal(new long[] { 2, 1, 3 }, sample["state"].Shape.ToArray());
        Assert.Equal(Enumerable.Range(6, 6).Select(i => (float)i), sample["state"].ToFloats());
        Assert.Equal(0, sample["sr"].Rank);
        Assert.Equal(8000, sample["sr"].AsSpan<long>()[0]);
        Assert.Throws<InvalidOperationException>(() => samples.Batch(0, 2));
    }

    [Fact]
    public void A_fixed_batch_axis_of_one_takes_rank_equal_arrays_one_sample_at_a_time()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 1L, 3L).Node("Identity", ["x"], ["y"]).Output("y", DataType.Float, 1L, 3L).Build();

        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([4, 3]) }, model);

        Assert.False(samples.CanBatch);
        Assert.Equal(new long[] { 1, 3 }, samples.Sample(3)["x"].Shape.ToArray());
    }

    [Fact]
    public void Initializers_listed_as_graph_inputs_need_no_array()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 3L)
            .Input("w", DataType.Float, 3L)
            .Initializer("w", [1f, 2f, 3f], 3)
            .Node("Mul", ["x", "w"], ["y"])
            .Output("y", DataType.Float, "N", 3L)
            .Build();

        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([2, 3]) }, model);

        Assert.Equal(["x"], samples.InputNames);
    }

    [Fact]
    public void Names_that_do_not_match_are_MC2003_listing_missing_unexpected_and_the_models_inputs()
    {
        var arrays = new Dictionary<string, NdArray> { ["audio"] = Floats([3, 1, 4]), ["states"] = Floats([3, 2, 1, 3]), ["labels"] = Labels(0, 0, 0) };

        var error = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("vad.npz", arrays, StreamingModel()));

        Assert.Equal(DiagnosticCode.DataNamesMismatch, error.Code);
        Assert.Equal("vad.npz", error.File);
        Assert.Contains("no array for the inputs 'state', 'sr'", error.Message);
        Assert.Contains("the array 'states', which is not a model input", error.Message);
        Assert.Contains("'audio' (float32 [1, 4]), 'state' (float32 [2, ?, 3])", error.Message);
        Assert.Contains("'sr' (int64 [])", error.Message);
        Assert.DoesNotContain("'labels'", error.Message.Split("The model's inputs")[0]);
    }

    [Fact]
    public void A_model_without_inputs_takes_no_data()
    {
        var model = new OnnxBuilder().Initializer("c", [1f], 1).Node("Identity", ["c"], ["y"]).Output("y", DataType.Float, 1L).Build();

        var error = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([2, 3]) }, model));

        Assert.Equal(DiagnosticCode.DataNamesMismatch, error.Code);
        Assert.Contains("takes no inputs", error.Message);
    }

    [Theory]
    [InlineData(new long[] { 4, 3, 1, 1 }, "must have rank 2 or 3, not 4")]
    [InlineData(new long[] { 4 }, "must have rank 2 or 3, not 1")]
    [InlineData(new long[] { 4, 5 }, "axis 1 is 5 where the input's is 3")]
    [InlineData(new long[] { 4, 1, 5 }, "axis 2 is 5 where the input's dimension 1 is 3")]
    public void Shapes_that_fit_neither_rule_are_MC2004_with_both_layouts_as_the_fix(long[] shape, string problem)
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, "N", 3L).Node("Identity", ["x"], ["y"]).Output("y", DataType.Float, "N", 3L).Build();

        var error = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats(shape) }, model));

        Assert.Equal(DiagnosticCode.DataShapeMismatch, error.Code);
        Assert.Contains($"array 'x' is float32 [{string.Join(", ", shape)}]", error.Message);
        Assert.Contains("input 'x' is float32 [N, 3]", error.Message);
        Assert.Contains(problem, error.Message);
        Assert.Contains("[S, 3] (axis 0 is the batch axis, sample i = x[i:i+1]) or [S, N, 3] (sample i = x[i], fed as is)", error.Message);
    }

    [Fact]
    public void A_different_element_type_is_MC2004_and_is_never_converted()
    {
        var error = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz",
            new Dictionary<string, NdArray> { ["x"] = NdArray.Create<double>([2, 3], new double[6]) }, BatchModel()));

        Assert.Equal(DiagnosticCode.DataShapeMismatch, error.Code);
        Assert.Contains("takes float32, not float64", error.Message);
        Assert.Contains("save it as float32", error.Message);
    }

    [Fact]
    public void A_fixed_axis_0_other_than_one_is_not_a_batch_axis()
    {
        var model = new OnnxBuilder().Input("x", DataType.Float, 2L, 3L).Node("Identity", ["x"], ["y"]).Output("y", DataType.Float, 2L, 3L).Build();

        var error = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([4, 3]) }, model));

        Assert.Equal(DiagnosticCode.DataShapeMismatch, error.Code);
        Assert.Contains("axis 0 is fixed at 2", error.Message);
        Assert.Contains("[S, 2, 3]", error.Message);
    }

    [Fact]
    public void A_scalar_input_needs_one_value_per_sample()
    {
        var arrays = new Dictionary<string, NdArray> { ["audio"] = Floats([3, 1, 4]), ["state"] = Floats([3, 2, 1, 3]), ["sr"] = NdArray.Create<long>([], [16000]) };

        var error = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("vad.npz", arrays, StreamingModel()));

        Assert.Equal(DiagnosticCode.DataShapeMismatch, error.Code);
        Assert.Contains("must have rank 1, not 0", error.Message);
        Assert.Contains("[S] (sample i = x[i], a scalar)", error.Message);
    }

    [Fact]
    public void Different_sample_counts_or_none_are_MC2005()
    {
        var uneven = new Dictionary<string, NdArray> { ["audio"] = Floats([3, 1, 4]), ["state"] = Floats([2, 2, 1, 3]), ["sr"] = NdArray.Create<long>([3], new long[3]) };
        var empty = new Dictionary<string, NdArray> { ["x"] = Floats([0, 3]) };

        var unevenError = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("vad.npz", uneven, StreamingModel()));
        var emptyError = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", empty, BatchModel()));

        Assert.Equal(DiagnosticCode.DataSampleCountMismatch, unevenError.Code);
        Assert.Contains("'audio' 3, 'state' 2, 'sr' 3", unevenError.Message);
        Assert.Equal(DiagnosticCode.DataSampleCountMismatch, emptyError.Code);
        Assert.Contains("holds no samples", emptyError.Message);
    }

    [Fact]
    public void Labels_must_be_integer_class_indices_one_per_sample()
    {
        var floatLabels = new Dictionary<string, NdArray> { ["x"] = Floats([3, 3]), ["labels"] = NdArray.Create<float>([3], [0, 1, 2]) };
        var shortLabels = new Dictionary<string, NdArray> { ["x"] = Floats([3, 3]), ["labels"] = Labels(0, 1) };
        var negative = new Dictionary<string, NdArray> { ["x"] = Floats([3, 3]), ["labels"] = Labels(0, -1, 2) };
        var int32 = new Dictionary<string, NdArray> { ["x"] = Floats([3, 3]), ["labels"] = NdArray.Create<int>([3], [2, 0, 1]) };

        var floatError = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", floatLabels, BatchModel()));
        var shapeError = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", shortLabels, BatchModel()));
        var negativeError = Assert.Throws<CompressionException>(() => SampleSet.FromArrays("d.npz", negative, BatchModel()));
        var accepted = SampleSet.FromArrays("d.npz", int32, BatchModel());

        Assert.All([floatError, shapeError, negativeError], e => Assert.Equal(DiagnosticCode.LabelsInvalid, e.Code));
        Assert.Contains("save them as int64", floatError.Message);
        Assert.Contains("[2]", shapeError.Message);
        Assert.Contains("[3]", shapeError.Message);
        Assert.Contains("labels[1] is -1", negativeError.Message);
        Assert.Equal([2L, 0L, 1L], Enumerable.Range(0, 3).Select(accepted.Label));
    }

    [Fact]
    public void Split_spreads_the_selected_samples_evenly_and_keeps_file_indices()
    {
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([10, 3]), ["labels"] = Labels(0, 1, 2, 3, 4, 5, 6, 7, 8, 9) }, BatchModel());

        var (selected, others) = samples.Split(4);

        Assert.Equal([2, 4, 7, 9], Enumerable.Range(0, selected.Count).Select(selected.SourceIndex));
        Assert.Equal([0, 1, 3, 5, 6, 8], Enumerable.Range(0, others.Count).Select(others.SourceIndex));
        Assert.Equal(7, selected.Label(2));
        Assert.True(selected.SharesDataWith(samples));
        // A batch over non-adjacent samples gathers exactly their rows.
        Assert.Equal(new[] { 6f, 7f, 8f, 12f, 13f, 14f, 21f, 22f, 23f }, selected.Batch(0, 3)["x"].ToFloats());
        Assert.Equal(selected.Sample(1)["x"].ToFloats(), samples.Sample(4)["x"].ToFloats());
        Assert.Equal(samples.Split(4).Selected.SourceIndex(3), selected.SourceIndex(3)); // deterministic
    }

    [Fact]
    public void Subsets_of_subsets_keep_the_file_numbering()
    {
        var samples = SampleSet.FromArrays("d.npz", new Dictionary<string, NdArray> { ["x"] = Floats([6, 3]) }, BatchModel());

        var subset = samples.Subset([5, 1, 3]).Subset([2, 0]);

        Assert.Equal([3, 5], Enumerable.Range(0, subset.Count).Select(subset.SourceIndex));
        Assert.Throws<ArgumentOutOfRangeException>(() => samples.Subset([6]));
    }

    [Fact]
    public void Load_reads_an_npz_file_and_reports_a_missing_one_as_MC2001()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("data.npz");
        NpzArchive.Write(path, new Dictionary<string, NdArray> { ["x"] = Floats([4, 3]), ["labels"] = Labels(1, 0, 1, 0) });

        var samples = SampleSet.Load(path, DataSetting.CalibrationData, BatchModel());
        var missing = Assert.Throws<CompressionException>(() => SampleSet.Load(temp.Combine("none.npz"), DataSetting.CalibrationData, BatchModel()));

        Assert.Equal(path, samples.File);
        Assert.Equal(4, samples.Count);
        Assert.Equal(new[] { 9f, 10f, 11f }, samples.Sample(3)["x"].ToFloats());
        Assert.Equal(DiagnosticCode.DataNotFound, missing.Code);
        Assert.Contains("CalibrationData", missing.Message);
    }

    [Fact]
    public void Load_checks_names_before_reading_any_data()
    {
        using var temp = new TempDirectory();
        var path = temp.Combine("data.npz");
        NpzArchive.Write(path, new Dictionary<string, NdArray> { ["input"] = Floats([4, 3]) });

        var error = Assert.Throws<CompressionException>(() => SampleSet.Load(path, DataSetting.ValidationData, BatchModel()));

        Assert.Equal(DiagnosticCode.DataNamesMismatch, error.Code);
        Assert.Equal(path, error.File);
        Assert.Contains($"Data file '{path}'", error.Message);
    }
}
