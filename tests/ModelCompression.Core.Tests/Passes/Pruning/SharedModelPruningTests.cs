using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.Pruning.PruningTestKit;

namespace ModelCompression.Core.Tests.Passes.Pruning;

/// <summary>Channel groups of the real models of ../shared/models (after the lossless pipeline), and pruning them.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelPruningTests
{
    private static (ModelProto Original, ModelProto Lossless, SampleSet Validation) Load(string name)
    {
        var folder = SharedModels.Folder(name);
        var original = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless); // BatchNorms folded, Constant nodes become initializers
        return (original, lossless, SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, original));
    }

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    [Fact]
    public void Fashion_cnn_has_a_group_per_layer_and_keeps_its_logits()
    {
        var groups = ChannelPruning.Groups(Load("fashion-cnn").Lossless);
        foreach (var group in groups) Log(group.ToString());

        Assert.Equal(
            [("/0/0.0/Conv", 32), ("/1/1.0/Conv", 32), ("/3/3.0/Conv", 64), ("/4/4.0/Conv", 64), ("/7/Gemm", 256), ("/10/Gemm", 10)],
            groups.Select(g => (g.Id, g.Channels)));
        Assert.All(groups.SkipLast(1), g => Assert.True(g.IsPrunable, g.RefusedBecause));
        Assert.Equal(["/4/4.0/Conv", "/7/Gemm"], groups[3].Layers); // Conv → MaxPool → Flatten → Gemm
        Assert.Equal("'logits' is a graph output (the model's interface keeps its shape)", groups[^1].RefusedBecause);
    }

    [Fact]
    public void Ppocr_cls_couples_residual_chains_and_squeeze_excite_gates()
    {
        var groups = ChannelPruning.Groups(Load("ppocr-cls").Lossless);
        foreach (var group in groups) Log(group.ToString());

        Assert.Equal(27, groups.Count);
        var refused = Assert.Single(groups, g => !g.IsPrunable);
        Assert.Equal("p2o.MatMul.0.gemm", refused.Id);
        Assert.Contains("Softmax 'p2o.Softmax.0': it normalizes across channels", refused.RefusedBecause);
        // Five residual Adds chain the 16-channel projections of five blocks into one group.
        var residual = groups.Single(g => g.Id == "p2o.Conv.16");
        Assert.Equal(["p2o.Conv.16", "p2o.Conv.21", "p2o.Conv.26", "p2o.Conv.31", "p2o.Conv.36"], residual.Producers);
        Assert.Equal(16, residual.Channels);
        // An expansion conv, its depthwise conv and the excite conv whose gate multiplies them share 88 channels.
        var expansion = groups.Single(g => g.Id == "p2o.Conv.17");
        Assert.Equal(["p2o.Conv.17", "p2o.Conv.20"], expansion.Producers);
        Assert.Equal(["p2o.Conv.17", "p2o.Conv.18", "p2o.Conv.19", "p2o.Conv.20", "p2o.Conv.21"], expansion.Layers);
        // The last block reaches the classifier through Shape/Slice/Concat → Reshape, whose target is rewritten.
        Assert.True(groups.Single(g => g.Id == "p2o.Conv.52").IsPrunable);
    }

    /// <summary>
    /// Removing channels computes exactly what the unpruned model computes with those channels zeroed in every
    /// tensor the pass slices (weights, biases, constant operands): every activation on these paths maps 0 to 0 or is
    /// multiplied by a zeroed channel, so the two must agree on real data. A wrong slice or coupling anywhere in the
    /// graph breaks this.
    /// </summary>
    [Theory]
    [InlineData("fashion-cnn", 0.25)]
    [InlineData("ppocr-cls", 0.25)]
    [InlineData("ppocr-cls", 0.5)]
    [InlineData("ppocr-rec", 0.25)]
    public void Pruned_models_compute_what_the_original_computes_with_those_channels_zeroed(string name, double ratio)
    {
        var (_, lossless, validation) = Load(name);
        var pass = ChannelPruning.Uniform(lossless, ratio);

        var pruned = lossless.Clone();
        var removed = pass.Apply(pruned);
        var masked = lossless.Clone();
        var deps = ChannelDependencies.Build(new ModelView(masked));
        var ids = deps.Classes.IdsOf(pass.ChannelsToRemove(deps));
        foreach (var slice in deps.Slices)
        {
            var zero = Array.ConvertAll(slice.Ids, ids.Contains);
            if (!zero.Any(z => z)) continue;
            deps.Graph.TryGetConstant(slice.Node.Input[slice.Input], out var tensor);
            deps.Graph.SetConstantInput(slice.Node, slice.Input, ZeroAlong(tensor!, slice.Axis, zero), slice.Node.Input[slice.Input]);
        }

        Assert.True(removed > 0);
        var largest = 0.0;
        foreach (var i in new[] { 0, 1, 2, 3 })
        {
            var sample = validation.Sample(i);
            var expected = ModelEquivalence.Run(masked, sample);
            var actual = ModelEquivalence.Run(pruned, sample);
            Assert.Empty(OutputComparison.Differences(expected, actual, new Tolerance(1e-5, 1e-4)));
            largest = Math.Max(largest, OutputComparison.MaxAbsoluteDifference(expected, actual));
        }
        Log($"{name} at {ratio}: {removed} channels removed, max |pruned − zeroed| {largest:G3}");
    }

    [Theory]
    [InlineData("fashion-cnn", "input", new long[] { 1, 1, 28, 28 })]
    [InlineData("ppocr-cls", "x", new long[] { 1, 3, 48, 192 })]
    public void A_quarter_of_every_prunable_group_makes_the_model_smaller_and_cheaper(string name, string input, long[] shape)
    {
        var (original, lossless, validation) = Load(name);
        var reference = Reference.Measure(original, name, validation, MetricKind.Accuracy);
        var groups = ChannelPruning.Groups(lossless);

        var pruned = lossless.Clone();
        var removed = ChannelPruning.Uniform(lossless, 0.25).Apply(pruned);
        OnnxStructure.Validate(pruned, $"{name} pruned");
        var accuracy = reference.Evaluate(pruned, $"{name} pruned"); // runs every validation sample with ONNX Runtime

        var (sizeBefore, sizeAfter) = (OnnxModelFile.SizeOf(lossless), OnnxModelFile.SizeOf(pruned));
        var (macsBefore, macsAfter) = (MultiplyAccumulates(lossless, input, shape), MultiplyAccumulates(pruned, input, shape));
        var (weightsBefore, weightsAfter) = (Parameters(lossless), Parameters(pruned));
        Log($"{name}: {groups.Count(g => g.IsPrunable)} of {groups.Count} groups pruned by 25% (kept counts aligned): {removed} channels removed");
        Log($"  size {sizeBefore} → {sizeAfter} bytes ({(double)sizeBefore / sizeAfter:F2}×), parameters {weightsBefore} → {weightsAfter}, " +
            $"MACs {macsBefore} → {macsAfter} ({(double)macsBefore / macsAfter:F2}×)");
        Log($"  accuracy on validation.npz {reference.Score:F4} → {accuracy:F4} (no fine-tuning)");
        Log($"  groups after: {string.Join(", ", ChannelPruning.Groups(pruned).Select(g => g.Channels))}");

        Assert.True(removed > 0);
        Assert.True(sizeAfter < sizeBefore * 0.8, $"{sizeAfter} of {sizeBefore} bytes");
        Assert.True(macsAfter < macsBefore * 0.8, $"{macsAfter} of {macsBefore} MACs");
        Assert.InRange(accuracy, 0, 1);
    }

    private static long Parameters(ModelProto model) =>
        model.Graph.Initializer.Where(t => (DataType)t.DataType == DataType.Float).Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d));

    private static NdArray ZeroAlong(NdArray tensor, int axis, bool[] zero)
    {
        var values = tensor.ToFloats();
        var shape = tensor.Shape.ToArray();
        var inner = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        for (var i = 0L; i < values.LongLength; i++)
            if (zero[i / inner % shape[axis]]) values[i] = 0;
        return NdArray.Create<float>(shape, values);
    }
}
