using Google.Protobuf;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using static ModelCompression.Core.Tests.Passes.PassTestKit;

namespace ModelCompression.Core.Tests.Passes;

public class LosslessPipelineTests
{
    // Weights in Constant nodes (as paddle2onnx writes them), Conv -> BatchNormalization -> Dropout -> Identity -> output,
    // a constant shape computation, and a MatMul + Add head.
    private static ModelProto ExportedStyleModel() => new OnnxBuilder(13)
        .Input("x", DataType.Float, "N", 2, 5, 5)
        .Node("Constant", [], ["w"], ("value", Random(1, 4, 2, 3, 3)))
        .Node("Constant", [], ["bn.scale"], ("value", Random(2, 4)))
        .Node("Constant", [], ["bn.bias"], ("value", Random(3, 4)))
        .Node("Constant", [], ["bn.mean"], ("value", Random(4, 4)))
        .Node("Constant", [], ["bn.var"], ("value", Positive(5, 4)))
        .Node("Constant", [], ["head.w"], ("value", Random(6, 4, 3)))
        .Node("Constant", [], ["head.b"], ("value", Random(7, 3)))
        .Node("Constant", [], ["shape_source"], ("value", Random(8, 2, 4)))
        .Node("Conv", ["x", "w"], ["c"])
        .Node("BatchNormalization", BatchNormInputs("c", "bn"), ["n"])
        .Node("Dropout", ["n"], ["d"])
        .Node("GlobalAveragePool", ["d"], ["p"])
        .Node("Shape", ["shape_source"], ["s"])
        .Node("Slice", ["s", "slice.start", "slice.end"], ["s1"])
        .Node("Concat", ["minus_one", "s1"], ["target"], ("axis", 0L))
        .Node("Reshape", ["p", "target"], ["flat"])
        .Node("MatMul", ["flat", "head.w"], ["m"])
        .Node("Add", ["m", "head.b"], ["logits"])
        .Node("Identity", ["logits"], ["y"])
        .Initializer("slice.start", Ints(1))
        .Initializer("slice.end", Ints(2))
        .Initializer("minus_one", Ints(-1))
        .Output("y", DataType.Float, "N", 3)
        .Build();

    [Fact]
    public void Runs_every_pass_to_a_fixpoint_and_reports_each_ones_rewrites()
    {
        var model = ExportedStyleModel();
        var rewritten = model.Clone();

        var report = new LosslessPipeline().Run(rewritten);

        var rewrites = report.Passes.ToDictionary(p => p.Pass, p => p.Rewrites);
        Assert.Equal(8, rewrites["constants-to-initializers"]);
        Assert.Equal(2, rewrites["remove-identity"]); // Dropout and Identity
        Assert.Equal(3, rewrites["fold-constants"]); // Shape, Slice, Concat
        Assert.Equal(1, rewrites["fold-batchnorm"]);
        // The MatMul's input is only known to be rank 2 once the Reshape's target is folded: a second round fuses it.
        Assert.Equal(1, rewrites["fuse-matmul-add"]);
        Assert.True(report.Rounds >= 2);
        // Dead initializers: the 4 BN parameters (the conv weight is rewritten in place), and the inputs of the
        // folded Shape/Slice/Concat chain: shape_source, slice.start, slice.end, minus_one and the folded s, s1.
        Assert.Equal(4 + 6, rewrites["remove-dead-code"]);
        Assert.False(report.AnySkipped);
        Assert.Equal(["Conv", "GlobalAveragePool", "Reshape", "Gemm"], OpTypes(rewritten));
        ModelEquivalence.AssertSameOutputs(model, rewritten, new Dictionary<string, NdArray> { ["x"] = Random(9, 3, 2, 5, 5) });
        Assert.Equal(0, new LosslessPipeline().Run(rewritten).TotalRewrites); // a fixpoint
    }

    private sealed class ThrowingPass : IGraphPass
    {
        public string Name => "throws";

        public int Apply(ModelProto model)
        {
            model.Graph.Node.Clear(); // half-done work that must be undone
            throw new InvalidOperationException("cannot handle node X");
        }
    }

    private sealed class CorruptingPass : IGraphPass
    {
        public string Name => "corrupts";

        public int Apply(ModelProto model)
        {
            model.Graph.Node.RemoveAt(0); // leaves a reader of an undefined value
            return 1;
        }
    }

    private sealed class RenamingPass : IGraphPass
    {
        public string Name => "renames-output";

        public int Apply(ModelProto model)
        {
            model.Graph.Node[^1].Output[0] = "renamed";
            model.Graph.Output[0].Name = "renamed";
            return 1;
        }
    }

    [Theory]
    [InlineData("throws")]
    [InlineData("corrupts")]
    [InlineData("renames-output")]
    public void A_pass_that_fails_is_undone_and_reported_while_the_others_run(string failing)
    {
        IGraphPass bad = failing switch { "throws" => new ThrowingPass(), "corrupts" => new CorruptingPass(), _ => new RenamingPass() };
        var model = new OnnxBuilder().Input("x", DataType.Float, 2)
            .Node("Relu", ["x"], ["r"]).Node("Identity", ["r"], ["i"]).Node("Neg", ["i"], ["y"])
            .Output("y", DataType.Float, 2).Build();
        var rewritten = model.Clone();

        var report = new LosslessPipeline([bad, new IdentityElimination()]).Run(rewritten);

        var outcome = report.Passes.Single(p => p.Pass == failing);
        Assert.True(outcome.Skipped);
        Assert.Equal(0, outcome.Rewrites);
        Assert.Equal(1, report.Passes.Single(p => p.Pass == "remove-identity").Rewrites);
        Assert.Equal(["Relu", "Neg"], OpTypes(rewritten));
        ModelEquivalence.AssertSameOutputs(model, rewritten, new Dictionary<string, NdArray> { ["x"] = Random(1, 2) }, Tolerance.Exact);
    }

    public static TheoryData<string> RejectedModelFaults => new(RejectedModels.Faults);

    /// <summary>The worker may rewrite before any ONNX Runtime session sees the model: a model it rejects must not hang or break the pipeline.</summary>
    [Theory(Timeout = 30_000)]
    [MemberData(nameof(RejectedModelFaults))]
    public async Task A_model_ONNX_Runtime_rejects_comes_out_unchanged(string fault)
    {
        var model = RejectedModels.Build(fault);
        var before = model.ToByteArray();

        await Task.Run(() => new LosslessPipeline().Run(model), TestContext.Current.CancellationToken);

        Assert.Equal(before, model.ToByteArray());
    }

    [Fact]
    public void A_restored_model_is_the_same_object_with_the_same_bytes()
    {
        var model = ExportedStyleModel();
        model.DocString = "keep me";
        model.MetadataProps.Add(new StringStringEntryProto { Key = "k", Value = "v" });
        var before = model.ToByteArray();

        var report = new LosslessPipeline([new ThrowingPass()]).Run(model);

        Assert.True(report.AnySkipped);
        Assert.Equal(before, model.ToByteArray());
    }

    [Fact]
    public void Doc_strings_metadata_and_unknown_fields_survive_the_pipeline()
    {
        var source = ExportedStyleModel();
        source.DocString = "model doc";
        source.MetadataProps.Add(new StringStringEntryProto { Key = "author", Value = "me" });
        source.Graph.Node.Single(n => n.OpType == "Conv").DocString = "conv doc";
        // An unknown field (number 1000, varint 42) as a newer ONNX version might write.
        var model = ModelProto.Parser.ParseFrom(source.ToByteArray().Concat(new byte[] { 0xC0, 0x3E, 42 }).ToArray());

        new LosslessPipeline().Run(model);

        Assert.Equal("model doc", model.DocString);
        Assert.Equal("me", model.MetadataProps.Single().Value);
        Assert.Equal("conv doc", model.Graph.Node.Single(n => n.OpType == "Conv").DocString);
        Assert.EndsWith(Convert.ToHexString([0xC0, 0x3E, 42]), Convert.ToHexString(model.ToByteArray()));
    }
}
