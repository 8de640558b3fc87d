using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>
/// The wrappers of a model with free dimensions (Runtime/FreeWidthModel.mcsig: batch 1, W grows; Runtime/BatchedWidthModel.mcsig:
/// MaxBatchSize 3, MaxSizes W=8) against <see cref="ModelRunner"/>, and their allocations per run.
/// </summary>
[Collection(AllocationMeasurement.Name)]
public sealed class VariableShapeRuntimeTests : IDisposable
{
    private readonly TempDirectory _folder = new();
    private readonly string _modelPath;

    public VariableShapeRuntimeTests()
    {
        _modelPath = _folder.Combine("free-width.onnx");
        OnnxModelFile.Save(RuntimeModels.FreeWidth(), _modelPath);
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void The_committed_sidecar_is_what_the_worker_resolves_with_the_declared_shapes()
    {
        var committed = SignatureSidecar.Read(File.ReadAllText(RepositoryPaths.Combine("tests", "ModelCompression.Generators.Tests", "Runtime", "FreeWidthModel.mcsig")));

        var (inputs, outputs) = SignatureResolver.Resolve(RuntimeModels.FreeWidth(), RuntimeModels.FreeWidthSample(), "free-width.onnx");

        Assert.Equal(WrapperRuntimeTests.Describe(committed.Inputs), WrapperRuntimeTests.Describe(inputs));
        Assert.Equal(WrapperRuntimeTests.Describe(committed.Outputs), WrapperRuntimeTests.Describe(outputs));
    }

    [Fact]
    public void Each_width_computes_what_ModelRunner_computes_with_spans_of_that_width()
    {
        using var runner = new ModelRunner(RuntimeModels.FreeWidth(), "model");
        using var wrapper = new FreeWidthModel(_modelPath);
        var random = new Random(3);

        Assert.Equal([1L, 2, 5], wrapper.XShape.ToArray()); // the sidecar's sample until set
        foreach (var width in new long[] { 7, 3, 7, 12 })
        {
            wrapper.SetInputSizes(width);
            Assert.Equal([1L, 2, width], wrapper.XShape.ToArray());
            Assert.Equal(2 * (int)width, wrapper.X.Length);
            Fill(wrapper.X, _ => (float)(random.NextDouble() * 4 - 2));
            wrapper.Offset[0] = (float)random.NextDouble();

            wrapper.Run();

            var expected = runner.Run(Feed(wrapper.X, wrapper.XShape, wrapper.Offset[0]));
            AssertEqual(expected["mean"], wrapper.MeanShape, wrapper.Mean);
            AssertEqual(expected["shifted"], wrapper.ShiftedShape, wrapper.Shifted);
        }
    }

    [Fact]
    public void Run_of_a_batch_equals_the_single_runs_of_its_samples()
    {
        using var runner = new ModelRunner(RuntimeModels.FreeWidth(), "model");
        using var wrapper = new BatchedWidthModel(_modelPath);
        var random = new Random(4);
        wrapper.SetInputSizes(6);
        Assert.Equal([3L, 2, 6], wrapper.XShape.ToArray()); // room for MaxBatchSize samples
        Fill(wrapper.X, _ => (float)(random.NextDouble() * 4 - 2));
        wrapper.Offset[0] = 0.25f;
        var sampleLength = wrapper.XLength / BatchedWidthModel.MaxBatchSize;

        wrapper.Run(3);

        Assert.Equal([3L, 6], wrapper.MeanShape.ToArray());
        Assert.Equal([3L, 2, 6], wrapper.ShiftedShape.ToArray());
        var batchMean = wrapper.Mean.ToArray();
        var batchShifted = wrapper.Shifted.ToArray();
        for (var sample = 0; sample < 3; sample++)
        {
            var expected = runner.Run(Feed(wrapper.X.Slice(sample * sampleLength, sampleLength), [1, 2, 6], 0.25f));
            Assert.Equal(expected["mean"].AsSpan<float>().ToArray(), batchMean.AsSpan(sample * 6, 6).ToArray());
            Assert.Equal(expected["shifted"].AsSpan<float>().ToArray(), batchShifted.AsSpan(sample * 12, 12).ToArray());
        }

        wrapper.Run(); // one sample: the outputs hold one sample
        Assert.Equal([1L, 6], wrapper.MeanShape.ToArray());
        Assert.Equal(batchMean.AsSpan(0, 6).ToArray(), wrapper.Mean.ToArray());
    }

    [Fact]
    public void Sizes_and_batch_sizes_out_of_range_throw()
    {
        using var wrapper = new BatchedWidthModel(_modelPath);

        Assert.Throws<ArgumentOutOfRangeException>(() => wrapper.SetInputSizes(9)); // MaxSizes W=8
        Assert.Throws<ArgumentOutOfRangeException>(() => wrapper.SetInputSizes(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => wrapper.Run(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => wrapper.Run(BatchedWidthModel.MaxBatchSize + 1));
        wrapper.SetInputSizes(8);
        wrapper.Run(BatchedWidthModel.MaxBatchSize);
    }

    [Fact]
    public void Runs_allocate_nothing_once_each_shape_has_run()
    {
        using var free = new FreeWidthModel(_modelPath);
        using var batched = new BatchedWidthModel(_modelPath);
        free.X.Fill(0.5f);
        batched.X.Fill(0.5f);

        foreach (var width in new long[] { 4, 11 })
        {
            free.SetInputSizes(width);
            free.Run(); // binds this width
            Assert.Equal(0, AllocationMeasurement.AllocatedBytes(10, free.Run));
        }
        batched.SetInputSizes(8);
        for (var batch = 1; batch <= BatchedWidthModel.MaxBatchSize; batch++) batched.Run(batch); // binds every batch size
        Assert.Equal(0, AllocationMeasurement.AllocatedBytes(10, () => { batched.Run(3); batched.Run(1); batched.Run(2); }));
    }

    [Fact]
    public void Instances_can_share_one_session_which_they_do_not_dispose()
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(_modelPath);
        using (var first = new FreeWidthModel(session))
        using (var second = new BatchedWidthModel(session))
        {
            first.X.Fill(1f);
            second.X.Fill(1f);
            first.Run();
            second.Run();
            Assert.Equal(first.Shifted.ToArray(), second.Shifted.ToArray());
        }
        using var third = new FreeWidthModel(session); // still usable
        third.Run();
    }

    private static Dictionary<string, NdArray> Feed(ReadOnlySpan<float> x, ReadOnlySpan<long> shape, float offset) => new()
    {
        ["x"] = NdArray.Create(shape, x),
        ["offset"] = NdArray.Create<float>([1], [offset]),
    };

    private static void Fill(Span<float> span, Func<int, float> value)
    {
        for (var i = 0; i < span.Length; i++) span[i] = value(i);
    }

    private static void AssertEqual(NdArray expected, ReadOnlySpan<long> shape, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Shape.ToArray(), shape.ToArray());
        Assert.Equal(expected.AsSpan<float>().ToArray(), actual.ToArray());
    }
}
