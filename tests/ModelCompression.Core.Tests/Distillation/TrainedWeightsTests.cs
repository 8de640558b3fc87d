using ModelCompression.Core.Distillation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Distillation;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Registry;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Distillation;

public sealed class TrainedWeightsTests
{
    private static NdArray Floats(long rows, long columns, float start) =>
        NdArray.Create<float>([rows, columns], Enumerable.Range(0, (int)(rows * columns)).Select(i => start + i).ToArray());

    private static ModelProto Mlp() => new OnnxBuilder(13)
        .Input("x", DataType.Float, "N", 2)
        .Initializer("A", [1f, 2f, 3f, 4f, 5f, 6f], 2, 3)
        .Node("MatMul", ["x", "A"], ["y"], "layer")
        .Output("y", DataType.Float, "N", 3)
        .Build();

    [Fact]
    public void The_file_depends_only_on_the_arrays_not_on_their_order_or_the_time()
    {
        var first = TrainedWeights.Of(new Dictionary<string, NdArray> { ["a"] = Floats(2, 3, 0), ["b"] = Floats(3, 1, 5) });
        Thread.Sleep(1100); // zip timestamps have 2-second resolution: a clock-dependent writer would differ here
        var second = TrainedWeights.Of(new Dictionary<string, NdArray> { ["b"] = Floats(3, 1, 5), ["a"] = Floats(2, 3, 0) });
        var changed = TrainedWeights.Of(new Dictionary<string, NdArray> { ["a"] = Floats(2, 3, 0), ["b"] = Floats(3, 1, 6) });

        Assert.Equal(first.Bytes, second.Bytes);
        Assert.Equal(first.Sha256, second.Sha256);
        Assert.NotEqual(first.Sha256, changed.Sha256);
        Assert.Equal($"model.distilled.{first.Sha256[..12]}.npz", first.FileName("model"));
    }

    [Fact]
    public void A_file_reads_back_only_with_the_hash_it_was_locked_with()
    {
        using var dir = new TempDirectory();
        var weights = TrainedWeights.Of(new Dictionary<string, NdArray> { ["A"] = Floats(2, 3, 1) });
        var path = dir.Combine("w.npz");
        File.WriteAllBytes(path, weights.Bytes);

        var read = TrainedWeights.Read(path, weights.Sha256)!;
        Assert.Equal(weights.Arrays["A"].Data, read.Arrays["A"].Data);
        Assert.Null(TrainedWeights.Read(path, new string('0', 64)));
        Assert.Null(TrainedWeights.Read(dir.Combine("missing.npz"), weights.Sha256));
    }

    [Fact]
    public void A_locked_hash_over_bytes_that_are_no_weights_file_is_refused_with_the_file_named()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("w.npz");
        File.WriteAllBytes(path, "not a zip"u8.ToArray());
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));

        var error = Assert.Throws<InvalidDataException>(() => TrainedWeights.Read(path, sha));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void The_pass_puts_the_trained_values_in_place_and_refuses_other_shapes_or_names()
    {
        var model = Mlp();
        new TrainedWeightsPass(TrainedWeights.Of(new Dictionary<string, NdArray> { ["A"] = Floats(2, 3, 10) })).Apply(model);
        Assert.Equal(Floats(2, 3, 10).Data, TensorProtoConverter.ToNdArray(model.Graph.Initializer.Single()).Data);

        Assert.Contains("shape", Assert.Throws<ArgumentException>(() =>
            new TrainedWeightsPass(TrainedWeights.Of(new Dictionary<string, NdArray> { ["A"] = Floats(3, 2, 0) })).Apply(Mlp())).Message);
        Assert.Contains("'B'", Assert.Throws<ArgumentException>(() =>
            new TrainedWeightsPass(TrainedWeights.Of(new Dictionary<string, NdArray> { ["B"] = Floats(2, 3, 0) })).Apply(Mlp())).Message);
    }

    [Fact]
    public void A_distilled_sketch_becomes_a_step_before_storage_and_reads_back()
    {
        var sketch = CompressionSketch.Unchanged.With("layer", new LayerSetting(WeightFormat.Int8)) with { Distilled = new DistilledWeights("m.distilled.abc.npz", "abc") };
        var space = CompressionSpace.Find(Mlp(), Technique.All, dataAwareRounding: false);

        var plan = PlanBuilder.Build(Plan.Empty, sketch, QuantizationKnobs.Default, space);

        Assert.Equal([TrainedWeightsPass.PassName, PassCatalog.Int8Weights], plan.Steps.Select(s => s.Pass).Take(2));
        Assert.Equal(sketch, PlanBuilder.SketchOf(plan));
        Assert.NotEqual(sketch with { Distilled = null }, PlanBuilder.SketchOf(plan));
    }

    [Fact]
    public void A_locked_distilled_plan_is_stale_when_its_weights_file_is_missing_or_changed()
    {
        using var dir = new TempDirectory();
        var weights = TrainedWeights.Of(new Dictionary<string, NdArray> { ["A"] = Floats(2, 3, 1) });
        var file = weights.FileName("model");
        var plan = new Plan([new PassStep(TrainedWeightsPass.PassName, [
            KeyValuePair.Create(DistillTechnique.FileParameter, file), KeyValuePair.Create(DistillTechnique.Sha256Parameter, weights.Sha256)])]);
        var current = new Core.Planning.Locking.LockStatus(Core.Planning.Locking.LockState.Current, [], LockWith(plan));

        Assert.Equal(Core.Planning.Locking.LockState.Stale, Compressor.WithTrainedWeights(current, dir.Path).State);
        File.WriteAllBytes(dir.Combine(file), weights.Bytes);
        Assert.Equal(Core.Planning.Locking.LockState.Current, Compressor.WithTrainedWeights(current, dir.Path).State);
        File.WriteAllBytes(dir.Combine(file), [.. weights.Bytes, 0]);
        var stale = Compressor.WithTrainedWeights(current, dir.Path);
        Assert.Equal(Core.Planning.Locking.LockState.Stale, stale.State);
        Assert.Contains(file, Assert.Single(stale.Reasons));
    }

    private static Core.Planning.Locking.PlanLock LockWith(Plan plan) => new(
        null!, "1.0", plan, new Core.Planning.Locking.LockedResult("label", 1, 1, 1, 1, 1), "hash");
}
