using ModelCompression.Core.Calibration;
using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Statistics;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Statistics;

/// <summary>Parameters and FLOPs of the real models of ../shared/models.</summary>
[Trait(TestTiers.Name, TestTiers.Slow)]
public class SharedModelStatisticsTests
{
    public static TheoryData<string> Models => ["digits-mlp", "fashion-cnn", "ppocr-cls", "ppocr-rec", "silero-vad"];

    private static (ModelProto Model, IReadOnlyDictionary<string, NdArray> Sample) Load(string name)
    {
        var folder = SharedModels.Folder(name);
        var model = OnnxModelFile.Load(Path.Combine(folder, "model.onnx"));
        return (model, SampleSet.Load(Path.Combine(folder, "validation.npz"), DataSetting.ValidationData, model).Sample(0));
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Parameters_are_every_float_weight_element_and_every_layer_has_its_flops(string name)
    {
        var (model, sample) = Load(name);

        var statistics = ModelStatistics.Of(model, sample);

        // Unquantized, every float constant (initializers and Constant nodes, every graph) is a parameter.
        var floats = OnnxWalk.Graphs(model).Sum(g =>
            g.Initializer.Where(IsFloat).Sum(TensorProtoConverter.ElementCount)
            + g.Node.Select(ConstantNodes.ValueOf).Where(t => t is not null && IsFloat(t)).Sum(t => TensorProtoConverter.ElementCount(t!)));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"| {name} | {statistics.Parameters:N0} | {statistics.Flops:N0} | {statistics.Layers.Count} layers |");
        Assert.Equal(floats, statistics.Parameters);
        Assert.Empty(statistics.UnresolvedNodes);
        Assert.True(statistics.Flops > 0);
        if (name == "digits-mlp") Assert.Equal(17_226, statistics.Parameters); // as its README says
        if (name == "fashion-cnn")
        {
            Assert.Equal(870_634, statistics.Parameters);
            // 28·28·32·1·9 + 28·28·32·32·9 + 14·14·64·32·9 + 14·14·64·64·9 + 3136·256 + 256·10 multiply-adds.
            Assert.Equal(2L * 19_094_528, statistics.Flops);
        }
    }

    private static bool IsFloat(TensorProto t) => (DataType)t.DataType is DataType.Float or DataType.Float16 or DataType.Double;

    [Theory]
    [InlineData("fashion-cnn")]
    [InlineData("ppocr-cls")]
    [InlineData("ppocr-rec")]
    public void Flops_agree_with_the_shapes_onnx_runtime_computes(string name)
    {
        var (model, sample) = Load(name);
        var graph = new ModelView(model).Main;
        var layers = model.Graph.Node.Where(n => n.OpType is "Conv" or "MatMul" or "Gemm").ToList();
        var computed = layers.SelectMany(n => new[] { n.Input[0], n.Input[1], n.Output[0] }).Where(v => !graph.IsConstant(v)).Distinct().ToList();
        var probe = Calibrator.WithOutputs(model, computed, out _);
        using var runner = new ModelRunner(probe, "probe");
        var values = runner.Run(sample, runner.OutputNames);
        IReadOnlyList<long> Shape(string value) =>
            graph.ConstantTensor(value) is { } constant ? constant.Dims.ToArray()
            : sample.TryGetValue(value, out var input) ? input.Shape.ToArray() : values[value].Shape.ToArray();
        long Elements(IEnumerable<long> shape) => shape.Aggregate(1L, (a, d) => a * d);

        long expected = 0;
        foreach (var node in layers)
        {
            var output = Shape(node.Output[0]);
            expected += node.OpType switch
            {
                "Conv" => 2 * Elements(output) * Elements(Shape(node.Input[1]).Skip(1)),
                "MatMul" => 2 * Elements(output) * Shape(node.Input[0])[^1],
                _ => 2 * Elements(output) * Shape(node.Input[0])[node.GetInt("transA", 0) == 1 ? 0 : 1],
            };
        }

        Assert.Equal(expected, ModelStatistics.Of(model, sample).Flops);
    }

    [Fact]
    public void Fashion_cnn_counts_the_same_in_every_weight_form()
    {
        var (original, sample) = Load("fashion-cnn");
        var lossless = original.Clone();
        new LosslessPipeline().Apply(lossless);
        var expected = ModelStatistics.Of(original, sample);
        foreach (var pass in new IGraphPass[]
                 {
                     new Int8WeightQuantization(), new Fp16WeightConversion(), new Int4WeightQuantization(),
                     new Int8DynamicQuantization(), new Int8DynamicQuantization(form: DynamicQuantizationForm.Fused),
                 })
        {
            var copy = lossless.Clone();
            Assert.True(pass.Apply(copy) > 0);

            var statistics = ModelStatistics.Of(copy, sample);

            Assert.True(expected.Parameters == statistics.Parameters, $"{pass.Name}: {statistics.Parameters} parameters");
            Assert.True(expected.Flops == statistics.Flops, $"{pass.Name}: {statistics.Flops} FLOPs");
        }
    }
}
