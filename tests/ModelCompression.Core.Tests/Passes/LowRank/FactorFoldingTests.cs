using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.LowRank;

public class FactorFoldingTests
{
    public enum WeightForm { Plain, Int8, Palette }

    private static NdArray Random(int seed, params long[] shape) => SyntheticInputs.Uniform(shape, seed);

    // A weight whose layer keeps activations near unit scale (uniform in ±√(3 / fan-in)), so a relative tolerance means what it says.
    private static NdArray Weight(int seed, int fanIn, params long[] shape)
    {
        var bound = (float)Math.Sqrt(3.0 / fanIn);
        return SyntheticInputs.Uniform(shape, seed, -bound, bound);
    }

    private static HashSet<string> FactorsOf(params string[] nodes) =>
        nodes.SelectMany(n => new[] { LowRankFactorization.FirstFactorName(n), LowRankFactorization.SecondFactorName(n) }).ToHashSet();

    // Factors the named layers at `rank`, then stores the factors' weights in `form`, as a plan's later steps would.
    private static ModelProto Factored(ModelProto model, WeightForm form, int rank, params string[] nodes)
    {
        var factored = model.Clone();
        Assert.Equal(nodes.Length, new LowRankFactorization(nodes.ToDictionary(n => n, _ => rank), new SpectrumCache()).Apply(factored));
        IGraphPass? storage = form switch
        {
            WeightForm.Int8 => new Int8WeightQuantization(FactorsOf(nodes), minElements: 1),
            WeightForm.Palette => new WeightPalettization(FactorsOf(nodes).ToDictionary(n => n, _ => 4), minElements: 1),
            _ => null,
        };
        if (storage is not null) Assert.Equal(2 * nodes.Length, storage.Apply(factored));
        return factored;
    }

    private static (ModelProto Folded, FactorFolding Pass) Fold(ModelProto factored, params string[] nodes)
    {
        var pass = new FactorFolding(nodes.ToHashSet());
        var (folded, folds) = PassTestKit.Apply(pass, factored);
        Assert.True(folds == nodes.Length, $"{folds} folds; skipped: {string.Join("; ", pass.Skipped)}");
        return (folded, pass);
    }

    // Layers of 96 inputs and 64 outputs factored at rank 8: factors of 768 and 512 values, large enough for palettes to pay.
    private const int Inputs = 96, Outputs = 64, Rank = 8;

    // x [2, 5, 96] → MatMul(x, W [96, 64]) → y.
    private static ModelProto MatMul() => new OnnxBuilder()
        .Input("x", DataType.Float, 2, 5, Inputs)
        .Initializer("w", Weight(1, Inputs, Inputs, Outputs))
        .Node("MatMul", ["x", "w"], ["y"], "proj")
        .Output("y", DataType.Float, 2, 5, Outputs)
        .Build();

    // x [3, 96] (or [96, 3] with transA) → Gemm(x, W, C) → y [3, 64].
    private static ModelProto Gemm(bool transB, float alpha = 1f, float beta = 1f, bool transA = false) => new OnnxBuilder()
        .Input("x", DataType.Float, transA ? [Inputs, 3] : [3, Inputs])
        .Initializer("w", Weight(1, Inputs, transB ? [Outputs, Inputs] : [Inputs, Outputs]))
        .Initializer("c", Random(2, Outputs))
        .Node("Gemm", ["x", "w", "c"], ["y"], "fc", ("transA", transA ? 1L : 0L), ("transB", transB ? 1L : 0L), ("alpha", alpha), ("beta", beta))
        .Output("y", DataType.Float, 3, Outputs)
        .Build();

    // x [1, 96, 9, 9] → Conv 1×1 (96 → 64, bias, stride 2, pads) → y [1, 64, 6, 6].
    private static ModelProto Conv() => new OnnxBuilder()
        .Input("x", DataType.Float, 1, Inputs, 9, 9)
        .Initializer("w", Weight(1, Inputs, Outputs, Inputs, 1, 1))
        .Initializer("b", Random(2, Outputs))
        .Node("Conv", ["x", "w", "b"], ["y"], "pointwise",
            ("kernel_shape", new long[] { 1, 1 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 2, 2 }))
        .Output("y", DataType.Float, 1, Outputs, 6, 6)
        .Build();

    // x [1, 64, 5, 5] → Conv 1×1 (64 → 48, stride 2, pads) → [1, 48, 4, 4] → Flatten → Gemm (768 → 64, transB) → MatMul (64 → 48) → y [1, 48].
    private static ModelProto ThreeLayers() => new OnnxBuilder()
        .Input("x", DataType.Float, 1, 64, 5, 5)
        .Initializer("conv.w", Weight(1, 64, 48, 64, 1, 1)).Initializer("conv.b", Random(2, 48))
        .Initializer("fc.w", Weight(3, 768, 64, 768)).Initializer("fc.b", Random(4, 64))
        .Initializer("proj.w", Weight(5, 64, 64, 48))
        .Node("Conv", ["x", "conv.w", "conv.b"], ["c"], "conv", ("kernel_shape", new long[] { 1, 1 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 2, 2 }))
        .Node("Flatten", ["c"], ["f"], "flatten")
        .Node("Gemm", ["f", "fc.w", "fc.b"], ["g"], "fc", ("transB", 1L))
        .Node("MatMul", ["g", "proj.w"], ["y"], "proj")
        .Output("y", DataType.Float, 1, 48)
        .Build();

    private static Dictionary<string, NdArray> ThreeLayerInput(int seed) => new() { ["x"] = Random(seed, 1, 64, 5, 5) };

    private static readonly string[] ThreeLayerNodes = ["conv", "fc", "proj"];

    private static IReadOnlyDictionary<string, NdArray> Run(ModelProto model, IReadOnlyDictionary<string, NdArray> inputs, GraphOptimizationLevel level)
    {
        using var runner = new ModelRunner(model, "model", level, intraOpThreads: 1);
        return runner.Run(inputs);
    }

    private static void AssertSameOutputs(ModelProto factored, ModelProto folded, IReadOnlyDictionary<string, NdArray> inputs, GraphOptimizationLevel level)
    {
        var differences = OutputComparison.Differences(Run(factored, inputs, level), Run(folded, inputs, level), Tolerance.Tight);
        Assert.True(differences.Count == 0, $"folded vs factored ({level}):\n" + string.Join("\n", differences));
    }

    /// <summary>The graph ONNX Runtime runs after its load-time rewrites at <paramref name="level"/>.</summary>
    private static ModelProto Optimized(ModelProto model, GraphOptimizationLevel level = GraphOptimizationLevel.ORT_ENABLE_BASIC)
    {
        using var folder = new TempDirectory("mc-fold-factors");
        var path = folder.Combine("optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = level, OptimizedModelFilePath = path })
        {
            options.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
            using var session = new InferenceSession(model.ToByteArray(), options);
        }
        return ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
    }

    public static TheoryData<string, Func<ModelProto>, long[], WeightForm> LayerCases()
    {
        var layers = new (string Name, Func<ModelProto> Build, long[] Input)[]
        {
            ("MatMul, rank-3 input", MatMul, [2, 5, Inputs]),
            ("Gemm transB 0, bias", () => Gemm(transB: false), [3, Inputs]),
            ("Gemm transB 1, alpha 0.5, beta 2, bias", () => Gemm(transB: true, alpha: 0.5f, beta: 2f), [3, Inputs]),
            ("Gemm transA 1", () => Gemm(transB: false, transA: true), [Inputs, 3]),
            ("1×1 Conv, stride 2, pads", Conv, [1, Inputs, 9, 9]),
        };
        var cases = new TheoryData<string, Func<ModelProto>, long[], WeightForm>();
        foreach (var (name, build, input) in layers)
            foreach (var form in Enum.GetValues<WeightForm>())
                cases.Add(name, build, input, form);
        return cases;
    }

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void The_folded_layer_computes_what_its_factors_compute(string _, Func<ModelProto> build, long[] input, WeightForm form)
    {
        var model = build();
        var original = model.Graph.Node.Single();
        var factored = Factored(model, form, Rank, original.Name);

        var (folded, _) = Fold(factored, original.Name);

        AssertSameOutputs(factored, folded, new Dictionary<string, NdArray> { ["x"] = Random(99, input) }, GraphOptimizationLevel.ORT_DISABLE_ALL);
        var layer = folded.Graph.Node.Single(n => n.OpType == original.OpType && n.Input[0] == "x");
        Assert.Equal(original.Name, layer.Name);
        Assert.Equal(original.Output[0], layer.Output[0]);
        Assert.DoesNotContain(folded.Graph.Node, n => FactorsOf(original.Name).Contains(n.Name));
        if (original.OpType == "Gemm")
        {
            Assert.Equal(original.GetFloat("beta", 1f), layer.GetFloat("beta", 1f));
            Assert.Equal(original.GetInt("transA", 0), layer.GetInt("transA", 0));
            Assert.Equal("c", layer.Input[2]);
        }
        if (original.OpType == "Conv")
        {
            Assert.Equal(original.GetInts("strides"), layer.GetInts("strides"));
            Assert.Equal(original.GetInts("pads"), layer.GetInts("pads"));
            Assert.Equal("b", layer.Input[2]);
        }
    }

    [Theory]
    [InlineData(WeightForm.Plain)]
    [InlineData(WeightForm.Int8)]
    [InlineData(WeightForm.Palette)]
    public void Onnx_runtime_folds_the_product_at_load_into_one_layer_per_factored_layer(WeightForm form)
    {
        var factored = Factored(ThreeLayers(), form, Rank, ThreeLayerNodes);
        var (folded, _) = Fold(factored, ThreeLayerNodes);

        var optimized = Optimized(folded);

        Assert.Equal(["Conv", "Flatten", "Gemm", "MatMul"], optimized.Graph.Node.Select(n => n.OpType));
        var constants = optimized.Graph.Initializer.Select(t => t.Name).ToHashSet();
        Assert.DoesNotContain(optimized.Graph.Node, n => n.Input.Where(i => i.Length > 0).All(constants.Contains)); // nothing left to fold
        Assert.Equal(6, Optimized(factored).Graph.Node.Count(n => n.OpType is "Conv" or "Gemm" or "MatMul")); // two kernels per layer unfolded
        AssertSameOutputs(factored, folded, ThreeLayerInput(98), GraphOptimizationLevel.ORT_ENABLE_BASIC);
    }

    [Theory]
    [InlineData(WeightForm.Plain)]
    [InlineData(WeightForm.Int8)]
    [InlineData(WeightForm.Palette)]
    public void The_file_keeps_only_the_factors_and_grows_by_a_few_dozen_bytes_per_layer(WeightForm form)
    {
        var model = ThreeLayers();
        var factored = Factored(model, form, Rank, ThreeLayerNodes);
        var (folded, _) = Fold(factored, ThreeLayerNodes);

        var growth = OnnxModelFile.SizeOf(folded) - OnnxModelFile.SizeOf(factored);

        // MatMul/Gemm: one MatMul node and a weight name; Conv: three Transposes and a MatMul, less the node folded away.
        Assert.True(growth <= 3 * 100, $"the folded file is {growth} bytes larger than the factored one");
        Assert.True(OnnxModelFile.SizeOf(folded) < OnnxModelFile.SizeOf(model) / 4, $"folded {OnnxModelFile.SizeOf(folded)} bytes against the original's {OnnxModelFile.SizeOf(model)}");
        Assert.Equal(factored.Graph.Initializer.Sum(t => t.CalculateSize()), folded.Graph.Initializer.Sum(t => t.CalculateSize()));
    }

    [Fact]
    public void Factors_whose_weights_are_not_folded_at_load_or_whose_link_is_quantized_stay_factored_with_the_reason()
    {
        var model = ThreeLayers();
        var factored = Factored(model, WeightForm.Plain, Rank, ThreeLayerNodes);
        // fc: int4 MatMulNBits replaces both factors; conv: int8 weights as DequantizeLinear; proj: plain, folded.
        Assert.Equal(2, new Int4WeightQuantization(FactorsOf("fc"), new Int4Settings(BlockSize: 16), minElements: 1).Apply(factored));
        Assert.Equal(2, new Int8WeightQuantization(FactorsOf("conv"), DequantizeForm.DequantizeLinear, minElements: 1).Apply(factored));

        var pass = new FactorFolding(new HashSet<string> { "conv", "fc", "proj", "never-factored" });
        var (folded, folds) = PassTestKit.Apply(pass, factored);

        Assert.Equal(1, folds);
        Assert.Equal(["conv", "fc", "never-factored"], pass.Skipped.Select(s => s.Node));
        Assert.Contains("DequantizeLinear", pass.Skipped[0].Reason);
        Assert.Contains("MatMulNBits", pass.Skipped[1].Reason);
        Assert.Contains("no factor nodes", pass.Skipped[2].Reason);
        Assert.Contains(folded.Graph.Node, n => n is { Name: "proj", OpType: "MatMul" });
        AssertSameOutputs(factored, folded, ThreeLayerInput(97), GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    [Fact]
    public void Statically_quantized_factors_keep_their_activation_quantization_and_stay_factored()
    {
        var model = Gemm(transB: true);
        var factored = Factored(model, WeightForm.Plain, Rank, "fc");
        var calibration = SampleSet.FromArrays("calibration.npz", new Dictionary<string, NdArray> { ["x"] = Random(5, 16, 3, Inputs) }, factored);
        Assert.True(new Int8StaticQuantization(calibration, FactorsOf("fc")).Apply(factored) > 0);

        var pass = new FactorFolding(new HashSet<string> { "fc" });
        var (folded, folds) = PassTestKit.Apply(pass, factored);

        Assert.Equal(0, folds);
        Assert.Contains("between the factors", Assert.Single(pass.Skipped).Reason);
        Assert.Equal(factored, folded);
    }

    [Fact]
    public void As_the_last_plan_step_it_folds_the_factors_the_plan_made_and_without_nodes_every_pair()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 64)
            .Initializer("w1", Weight(1, 64, 64, 32)).Initializer("c1", Random(2, 32))
            .Initializer("w2", Weight(3, 32, 32, 48))
            .Node("Gemm", ["x", "w1", "c1"], ["h"], "fc1")
            .Node("MatMul", ["h", "w2"], ["y"], "fc2")
            .Output("y", DataType.Float, "N", 48)
            .Build();
        var lowRank = PassCatalog.Step(PassCatalog.LowRank, null, (PassCatalog.RanksParameter, "fc1=8;fc2=8"));
        var int8 = PassCatalog.Step(PassCatalog.Int8Weights, FactorsOf("fc1", "fc2"));
        var factored = PassCatalog.Apply(model, new Plan([lowRank, int8]), PassContext.None);

        var folded = PassCatalog.Apply(model, new Plan([lowRank, int8, PassCatalog.Step(PassCatalog.FoldFactors, ["fc2"])]), PassContext.None);
        var everyPair = factored.Clone();
        var folds = new FactorFolding().Apply(everyPair);

        Assert.Equal(["fc1/lowrank/a", "fc1/lowrank/b", "fc2"], Layers(folded)); // only the step's node
        Assert.Equal(["fc1", "fc2"], Layers(everyPair));
        Assert.Equal(2, folds);
        var inputs = new Dictionary<string, NdArray> { ["x"] = Random(96, 2, 64) };
        AssertSameOutputs(factored, folded, inputs, GraphOptimizationLevel.ORT_DISABLE_ALL);
        AssertSameOutputs(factored, everyPair, inputs, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }

    // The Gemm/MatMul layers: the MatMuls computing a folded weight from the factors are the unnamed ones.
    private static string[] Layers(ModelProto model) =>
        model.Graph.Node.Where(n => n.OpType is "Gemm" or "MatMul" && n.Name.Length > 0).Select(n => n.Name).ToArray();

    [Fact]
    public void A_factored_layer_in_an_if_branch_is_folded_in_the_branch()
    {
        var branch = new OnnxBuilder().Node("MatMul", ["x", "w"], ["t"], "inner").Output("t", DataType.Float, 3, Outputs).Graph();
        var other = new OnnxBuilder().Node("Identity", ["z"], ["e"], "pass_through").Output("e", DataType.Float, 3, Outputs).Graph();
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 3, Inputs).Input("z", DataType.Float, 3, Outputs).Input("cond", DataType.Bool)
            .Initializer("w", Weight(1, Inputs, Inputs, Outputs))
            .Node("If", ["cond"], ["y"], "branch", ("then_branch", branch), ("else_branch", other))
            .Output("y", DataType.Float, 3, Outputs)
            .Build();
        var factored = Factored(model, WeightForm.Palette, Rank, "inner");

        var (folded, _) = Fold(factored, "inner");

        var then = folded.Graph.Node.Single().Attribute.Single(a => a.Name == "then_branch").G;
        Assert.Single(then.Node, n => n is { Name: "inner", OpType: "MatMul" } && n.Input[0] == "x");
        Assert.Equal(2, then.Node.Count(n => n.OpType == "MatMul")); // the layer and the product of the factors
        AssertSameOutputs(factored, folded, new Dictionary<string, NdArray>
        {
            ["x"] = Random(3, 3, Inputs), ["z"] = Random(4, 3, Outputs), ["cond"] = NdArray.Create<bool>([], [true]),
        }, GraphOptimizationLevel.ORT_DISABLE_ALL);
    }
}
