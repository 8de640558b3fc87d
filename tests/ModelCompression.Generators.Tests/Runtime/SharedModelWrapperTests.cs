using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>
/// The wrappers of real models of ../shared/models (Runtime/PpocrRec.mcsig: free width; Runtime/FashionCnnBatched.mcsig:
/// MaxBatchSize 8) against ONNX Runtime run directly with OrtValues, and their allocations per run.
/// </summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
[Collection(AllocationMeasurement.Name)]
public class SharedModelWrapperTests
{
    [Theory]
    [InlineData("ppocr-rec", "PpocrRec.mcsig", 320L)]
    [InlineData("fashion-cnn", "FashionCnnBatched.mcsig", 28L)]
    public void The_committed_sidecars_are_what_the_worker_resolves_for_the_models(string name, string sidecar, long width)
    {
        var model = OnnxModelFile.Load(Path.Combine(SharedModels.Folder(name), "model.onnx"));
        var committed = SignatureSidecar.Read(File.ReadAllText(RepositoryPaths.Combine("tests", "ModelCompression.Generators.Tests", "Runtime", sidecar)));
        var input = committed.Inputs.Single();
        var shape = input.Shape.ToArray();
        Assert.Equal(width, shape[^1]);

        var (inputs, outputs) = SignatureResolver.Resolve(model, new Dictionary<string, NdArray> { [input.Name] = Zeros(shape) }, name);

        Assert.Equal(WrapperRuntimeTests.Describe(committed.Inputs), WrapperRuntimeTests.Describe(inputs));
        Assert.Equal(WrapperRuntimeTests.Describe(committed.Outputs), WrapperRuntimeTests.Describe(outputs));
    }

    [Fact]
    public void Ppocr_rec_runs_at_two_widths_in_one_process_like_ONNX_Runtime_and_allocates_nothing_per_run()
    {
        var path = Path.Combine(SharedModels.Folder("ppocr-rec"), "model.onnx");
        using var session = new InferenceSession(path);
        using var wrapper = new PpocrRec(path);
        var random = new Random(5);

        foreach (var width in new long[] { 320, 160, 320 })
        {
            wrapper.SetInputSizes(width);
            Assert.Equal([1L, 3, 48, width], wrapper.XShape.ToArray());
            for (var i = 0; i < wrapper.X.Length; i++) wrapper.X[i] = (float)(random.NextDouble() * 2 - 1);

            wrapper.Run();

            var (expected, expectedShape) = RunDirectly(session, "x", wrapper.X.ToArray(), wrapper.XShape.ToArray(), "softmax_11.tmp_0");
            Assert.Equal(expectedShape, wrapper.Softmax11Tmp0Shape.ToArray());
            Assert.Equal([1L, width / 8, 6625], wrapper.Softmax11Tmp0Shape.ToArray());
            Assert.Equal(expected, wrapper.Softmax11Tmp0.ToArray());

            var bytes = AllocationMeasurement.AllocatedBytes(10, wrapper.Run);
            TestContext.Current.TestOutputHelper?.WriteLine($"ppocr-rec width {width}: {bytes} B over 10 runs after the first");
            Assert.Equal(0, bytes);
            Assert.Equal(expected, wrapper.Softmax11Tmp0.ToArray()); // the bound buffers are written again, the same way
        }
    }

    [Fact]
    public void Fashion_cnn_Run_of_8_equals_eight_single_runs_and_allocates_nothing_per_run()
    {
        var path = Path.Combine(SharedModels.Folder("fashion-cnn"), "model.onnx");
        using var session = new InferenceSession(path);
        using var wrapper = new FashionCnnBatched(path);
        const int SampleLength = FashionCnnBatched.InputSampleLength;
        var random = new Random(6);
        Assert.Equal(28 * 28, SampleLength);
        Assert.Equal(FashionCnnBatched.MaxBatchSize * SampleLength, wrapper.InputLength);
        for (var i = 0; i < wrapper.Input.Length; i++) wrapper.Input[i] = (float)(random.NextDouble() * 4 - 1);
        var samples = wrapper.Input.ToArray();

        wrapper.Run(8);
        var batch = wrapper.Logits.ToArray();

        Assert.Equal([8L, 10], wrapper.LogitsShape.ToArray());
        Assert.Equal(8 * FashionCnnBatched.LogitsSampleLength, wrapper.LogitsLength);
        for (var sample = 0; sample < 8; sample++)
        {
            samples.AsSpan(sample * SampleLength, SampleLength).CopyTo(wrapper.Input);
            wrapper.Run(1);
            var (direct, _) = RunDirectly(session, "input", samples.AsSpan(sample * SampleLength, SampleLength).ToArray(), [1, 1, 28, 28], "logits");
            Assert.Equal(direct, wrapper.Logits.ToArray());
            Assert.Equal(wrapper.Logits.ToArray(), batch.AsSpan(sample * FashionCnnBatched.LogitsSampleLength, FashionCnnBatched.LogitsSampleLength).ToArray());
        }

        samples.CopyTo(wrapper.Input);
        wrapper.Run(8);
        var bytes = AllocationMeasurement.AllocatedBytes(10, () => wrapper.Run(8));
        var alternating = AllocationMeasurement.AllocatedBytes(10, () => { wrapper.Run(1); wrapper.Run(8); });
        TestContext.Current.TestOutputHelper?.WriteLine($"fashion-cnn: {bytes} B over 10 Run(8), {alternating} B over 10 Run(1) + Run(8)");
        Assert.Equal(0, bytes);
        Assert.Equal(0, alternating);
        Assert.Equal(batch, wrapper.Logits.ToArray());
    }

    // ONNX Runtime's own path: the input as an OrtValue, the output allocated by ONNX Runtime.
    private static (float[] Values, long[] Shape) RunDirectly(InferenceSession session, string inputName, float[] input, long[] shape, string outputName)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var options = new RunOptions();
        using var results = session.Run(options, [inputName], [value], [outputName]);
        return (results[0].GetTensorDataAsSpan<float>().ToArray(), results[0].GetTensorTypeAndShape().Shape);
    }

    private static NdArray Zeros(long[] shape) => new(DataType.Float, shape, new byte[shape.Aggregate(4L, (a, d) => a * d)]);
}
