using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>
/// Runs the wrappers the generator produced for this assembly from Runtime/*.mcsig (TinyCnn, MultiTypeModel)
/// on the matching models, against <see cref="ModelRunner"/>'s copying path.
/// </summary>
[Collection(AllocationMeasurement.Name)]
public class WrapperRuntimeTests
{
    [Theory]
    [InlineData("TinyCnn.mcsig")]
    [InlineData("MultiTypeModel.mcsig")]
    public void The_committed_sidecars_are_what_the_worker_resolves_for_the_models(string sidecar)
    {
        var model = sidecar == "TinyCnn.mcsig" ? RuntimeModels.TinyCnn() : RuntimeModels.MultiType();
        var committed = SignatureSidecar.Read(File.ReadAllText(RepositoryPaths.Combine("tests", "ModelCompression.Generators.Tests", "Runtime", sidecar)));

        var (inputs, outputs) = SignatureResolver.Resolve(model, sample: null, sidecar);

        Assert.Equal(Describe(inputs), Describe(committed.Inputs));
        Assert.Equal(Describe(outputs), Describe(committed.Outputs));
    }

    [Fact]
    public void TinyCnn_wrapper_computes_what_ModelRunner_computes()
    {
        using var folder = new TempDirectory();
        var model = RuntimeModels.TinyCnn();
        using var runner = new ModelRunner(model, "model");
        using var wrapper = new TinyCnn(Save(model, folder));
        var random = new Random(1);

        // Twice: the bound buffers are read and written again on every run.
        for (var round = 0; round < 2; round++)
        {
            Fill(wrapper.Input, _ => (float)(random.NextDouble() * 4 - 2));
            wrapper.Run();

            var expected = runner.Run(new Dictionary<string, NdArray> { ["input"] = NdArray.Create<float>(TinyCnn.InputShape, wrapper.Input) });

            Assert.Equal(expected["logits"].Shape.ToArray(), TinyCnn.LogitsShape.ToArray());
            var logits = expected["logits"].AsSpan<float>();
            Assert.Equal(TinyCnn.LogitsLength, wrapper.Logits.Length);
            for (var i = 0; i < logits.Length; i++) Assert.Equal(logits[i], wrapper.Logits[i], 1e-5f);
            Assert.Contains(wrapper.Logits.ToArray(), v => v != 0); // the run really wrote the output buffer
        }
    }

    [Fact]
    public void MultiTypeModel_wrapper_binds_every_element_type_and_computes_what_ModelRunner_computes()
    {
        using var folder = new TempDirectory();
        var model = RuntimeModels.MultiType();
        using var runner = new ModelRunner(model, "model");
        using var m = new MultiTypeModel(Save(model, folder));
        var random = new Random(2);

        for (var round = 0; round < 2; round++)
        {
            Fill(m.Input, _ => (float)(random.NextDouble() * 6 - 3));
            Fill(m.State, _ => (Half)(float)(random.NextDouble() * 2 - 1));
            m.Sr[0] = round == 0 ? 16000 : 8000;
            Fill(m.Flags, i => (i + round) % 2 == 0);
            Fill(m.Pixels, _ => (byte)random.Next(256));
            Fill(m.Count, _ => random.Next(-1000, 1000));
            Fill(m.D, _ => random.NextDouble() * 1e6);
            Fill(m.I8, _ => (sbyte)random.Next(-127, 128));
            Fill(m.I16, _ => (short)random.Next(short.MinValue, short.MaxValue));
            Fill(m.U16, _ => (ushort)random.Next(ushort.MaxValue));
            Fill(m.U32, _ => (uint)random.NextInt64(uint.MaxValue));
            Fill(m.U64, _ => (ulong)random.NextInt64() * 3);

            m.Run();

            var expected = runner.Run(new Dictionary<string, NdArray>
            {
                ["input"] = NdArray.Create<float>(MultiTypeModel.InputShape, m.Input),
                ["state"] = NdArray.Create<Half>(MultiTypeModel.StateShape, m.State),
                ["sr"] = NdArray.Create<long>(MultiTypeModel.SrShape, m.Sr),
                ["flags"] = NdArray.Create<bool>(MultiTypeModel.FlagsShape, m.Flags),
                ["pixels"] = NdArray.Create<byte>(MultiTypeModel.PixelsShape, m.Pixels),
                ["count"] = NdArray.Create<int>(MultiTypeModel.CountShape, m.Count),
                ["d"] = NdArray.Create<double>(MultiTypeModel.DShape, m.D),
                ["i8"] = NdArray.Create<sbyte>(MultiTypeModel.I8Shape, m.I8),
                ["i16"] = NdArray.Create<short>(MultiTypeModel.I16Shape, m.I16),
                ["u16"] = NdArray.Create<ushort>(MultiTypeModel.U16Shape, m.U16),
                ["u32"] = NdArray.Create<uint>(MultiTypeModel.U32Shape, m.U32),
                ["u64"] = NdArray.Create<ulong>(MultiTypeModel.U64Shape, m.U64),
            });

            AssertEqual(expected["output"], MultiTypeModel.OutputShape, m.Output);
            AssertEqual(expected["stateN"], MultiTypeModel.StateNShape, m.StateN);
            AssertEqual(expected["sr_twice"], MultiTypeModel.SrTwiceShape, m.SrTwice);
            AssertEqual(expected["not_flags"], MultiTypeModel.NotFlagsShape, m.NotFlags);
            AssertEqual(expected["bytes"], MultiTypeModel.BytesShape, m.Bytes);
            AssertEqual(expected["count_out"], MultiTypeModel.CountOutShape, m.CountOut);
            AssertEqual(expected["d_out"], MultiTypeModel.DOutShape, m.DOut);
            AssertEqual(expected["i8_out"], MultiTypeModel.I8OutShape, m.I8Out);
            AssertEqual(expected["i16_out"], MultiTypeModel.I16OutShape, m.I16Out);
            AssertEqual(expected["u16_out"], MultiTypeModel.U16OutShape, m.U16Out);
            AssertEqual(expected["u32_out"], MultiTypeModel.U32OutShape, m.U32Out);
            AssertEqual(expected["u64_out"], MultiTypeModel.U64OutShape, m.U64Out);
            Assert.Equal(round == 0 ? 32000 : 16000, m.SrTwice[0]); // a scalar is one element
        }
    }

    [Fact]
    public void Run_allocates_no_managed_memory()
    {
        using var folder = new TempDirectory();
        using var cnn = new TinyCnn(Save(RuntimeModels.TinyCnn(), folder));
        using var multi = new MultiTypeModel(Save(RuntimeModels.MultiType(), folder));
        cnn.Input.Fill(0.5f);
        multi.Input.Fill(0.5f);
        const int Runs = 10_000;

        for (var i = 0; i < 100; i++) { cnn.Run(); multi.Run(); } // warm-up
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Runs; i++) cnn.Run();
        var cnnBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Runs; i++) multi.Run();
        var multiBytes = GC.GetAllocatedBytesForCurrentThread() - before;

        TestContext.Current.TestOutputHelper?.WriteLine($"Managed bytes allocated over {Runs} runs: TinyCnn {cnnBytes}, MultiTypeModel {multiBytes}.");
        Assert.Equal(0, cnnBytes);
        Assert.Equal(0, multiBytes);
    }

    [Fact]
    public void Default_constructors_load_the_model_at_ModelPath_beside_the_application()
    {
        var path = Path.Combine(AppContext.BaseDirectory, TinyCnn.ModelPath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        OnnxModelFile.Save(RuntimeModels.TinyCnn(), path);
        try
        {
            using (var byDefault = new TinyCnn())
            {
                byDefault.Input.Fill(1f);
                byDefault.Run();
            }
            using var options = new SessionOptions { IntraOpNumThreads = 1 };
            using (var withOptions = new TinyCnn(options))
            {
                withOptions.Input.Fill(1f);
                withOptions.Run();
            }
            Assert.False(options.IsClosed, "the caller's SessionOptions must not be disposed by the wrapper");
            using var again = new TinyCnn(options); // and they still work
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Embedded_wrapper_loads_the_model_from_its_manifest_resource_and_computes_what_the_file_gives()
    {
        var committed = RepositoryPaths.Combine("tests", "ModelCompression.Generators.Tests", "Runtime", "tiny-cnn.onnx");
        Assert.Equal(RuntimeModels.TinyCnn(), OnnxModelFile.Load(committed)); // the embedded bytes are TinyCnn
        using var embedded = new EmbeddedTinyCnn();
        using var fromFile = new TinyCnn(committed);
        embedded.Input.Fill(0.25f);
        fromFile.Input.Fill(0.25f);

        embedded.Run();
        fromFile.Run();

        Assert.Equal("ModelCompression.ModelCompression.Generators.Tests.Runtime.EmbeddedTinyCnn.onnx", EmbeddedTinyCnn.EmbeddedResourceName);
        Assert.Equal(fromFile.Logits.ToArray(), embedded.Logits.ToArray());
    }

    [Fact]
    public void Run_after_Dispose_throws_and_Dispose_is_idempotent()
    {
        using var folder = new TempDirectory();
        var wrapper = new TinyCnn(Save(RuntimeModels.TinyCnn(), folder));

        wrapper.Dispose();
        wrapper.Dispose();

        Assert.Throws<ObjectDisposedException>(wrapper.Run);
    }

    [Fact]
    public void A_missing_model_fails_with_ONNX_Runtimes_error_and_releases_what_was_created()
    {
        using var folder = new TempDirectory();

        var e = Assert.Throws<OnnxRuntimeException>(() => new TinyCnn(folder.Combine("missing.onnx")));

        Assert.Contains("missing.onnx", e.Message);
    }

    internal static string Save(ModelProto model, TempDirectory folder)
    {
        var path = folder.Combine($"{model.Graph.Output[0].Name}-{Guid.NewGuid():N}.onnx");
        OnnxModelFile.Save(model, path);
        return path;
    }

    private static void Fill<T>(Span<T> span, Func<int, T> value)
    {
        for (var i = 0; i < span.Length; i++) span[i] = value(i);
    }

    private static void AssertEqual<T>(NdArray expected, ReadOnlySpan<long> shape, ReadOnlySpan<T> actual) where T : unmanaged
    {
        Assert.Equal(expected.Shape.ToArray(), shape.ToArray());
        Assert.Equal(expected.AsSpan<T>().ToArray(), actual.ToArray());
    }

    /// <summary>Each tensor as one line: name, element type, shape and declared shape, to compare sidecars.</summary>
    internal static string[] Describe(IEnumerable<SidecarTensor> tensors) =>
        tensors.Select(t => $"{t.Name} {t.ElementType} [{string.Join(",", t.Shape)}] [{string.Join(",", t.DeclaredShape)}]").ToArray();
}
