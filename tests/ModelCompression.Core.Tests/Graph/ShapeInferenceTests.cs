using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Graph;

public class ShapeInferenceTests
{
    private static NdArray Ints(params long[] values) => NdArray.Create<long>([values.Length], values);

    private static NdArray Random(params long[] shape) => SyntheticInputs.Uniform(shape, seed: 3);

    /// <summary>One-operator models with fixed input shapes whose outputs declare no type: the rule alone must get them right.</summary>
    private static readonly Dictionary<string, Func<OnnxBuilder>> Cases = new()
    {
        ["conv-pads-strides-dilations"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 3, 11, 13).Initializer("w", Random(4, 3, 3, 2))
            .Node("Conv", ["x", "w"], ["y"], ("strides", new long[] { 2, 1 }), ("pads", new long[] { 1, 0, 1, 1 }), ("dilations", new long[] { 1, 2 })),
        ["conv-group-same-upper"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 6, 9, 9).Initializer("w", Random(6, 2, 3, 3))
            .Node("Conv", ["x", "w"], ["y"], ("group", 3L), ("auto_pad", "SAME_UPPER"), ("strides", new long[] { 2, 2 })),
        ["conv1d-valid"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 2, 10).Initializer("w", Random(3, 2, 4))
            .Node("Conv", ["x", "w"], ["y"], ("auto_pad", "VALID"), ("strides", new long[] { 3 })),
        ["conv-transpose-groups"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 4, 5, 5).Initializer("w", Random(4, 2, 3, 3))
            .Node("ConvTranspose", ["x", "w"], ["y"], ("group", 2L), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 0, 0 }), ("output_padding", new long[] { 1, 0 })),
        ["maxpool-ceil-indices"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 1, 7, 7)
            .Node("MaxPool", ["x"], ["y", "i"], ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("ceil_mode", 1L), ("pads", new long[] { 0, 0, 1, 1 })),
        ["maxpool-ceil-last-window-dropped"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 1, 5, 5)
            .Node("MaxPool", ["x"], ["y"], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }), ("ceil_mode", 1L), ("pads", new long[] { 1, 1, 1, 1 })),
        ["averagepool"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 2, 8, 9)
            .Node("AveragePool", ["x"], ["y"], ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })),
        ["global-average-pool"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 5, 7).Node("GlobalAveragePool", ["x"], ["y"]),
        ["gemm-transposed"] = () => new OnnxBuilder().Input("a", DataType.Float, 4, 3).Initializer("b", Random(5, 4)).Initializer("c", Random(5))
            .Node("Gemm", ["a", "b", "c"], ["y"], ("transA", 1L), ("transB", 1L)),
        ["matmul-batch-broadcast"] = () => new OnnxBuilder().Input("a", DataType.Float, 2, 1, 3, 4).Input("b", DataType.Float, 5, 4, 6).Node("MatMul", ["a", "b"], ["y"]),
        ["matmul-vector"] = () => new OnnxBuilder().Input("a", DataType.Float, 4).Input("b", DataType.Float, 2, 4, 3).Node("MatMul", ["a", "b"], ["y"]),
        ["flatten-negative-axis"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 4, 5).Node("Flatten", ["x"], ["y"], ("axis", -2L)),
        ["reshape-zero-and-minus-one"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 4).Initializer("s", Ints(0, -1, 2)).Node("Reshape", ["x", "s"], ["y"]),
        ["transpose"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 4).Node("Transpose", ["x"], ["y"], ("perm", new long[] { 2, 0, 1 })),
        ["transpose-default"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 4).Node("Transpose", ["x"], ["y"]),
        ["batchnorm"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 4)
            .Initializer("s", Random(3)).Initializer("b", Random(3)).Initializer("m", Random(3)).Initializer("v", [1f, 2f, 3f], 3)
            .Node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"]),
        ["concat"] = () => new OnnxBuilder().Input("a", DataType.Float, 2, 3).Input("b", DataType.Float, 2, 5).Node("Concat", ["a", "b"], ["y"], ("axis", -1L)),
        ["softmax-relu-dropout"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 7)
            .Node("Softmax", ["x"], ["s"]).Node("Relu", ["s"], ["r"]).Node("Dropout", ["r"], ["y", "mask"]),
        ["squeeze-opset11"] = () => new OnnxBuilder(11).Input("x", DataType.Float, 1, 3, 1, 2).Node("Squeeze", ["x"], ["y"], ("axes", new long[] { 0, -2 })),
        ["squeeze-all"] = () => new OnnxBuilder().Input("x", DataType.Float, 1, 3, 1, 2).Node("Squeeze", ["x"], ["y"]),
        ["unsqueeze-opset13"] = () => new OnnxBuilder().Input("x", DataType.Float, 3, 2).Initializer("axes", Ints(-1, 0)).Node("Unsqueeze", ["x", "axes"], ["y"]),
        ["unsqueeze-opset11"] = () => new OnnxBuilder(11).Input("x", DataType.Float, 3, 2).Node("Unsqueeze", ["x"], ["y"], ("axes", new long[] { 1 })),
        ["reducemean-opset13-attribute"] = () => new OnnxBuilder(13).Input("x", DataType.Float, 2, 3, 4).Node("ReduceMean", ["x"], ["y"], ("axes", new long[] { 1 }), ("keepdims", 0L)),
        ["reducemean-opset18-input"] = () => new OnnxBuilder(18).Input("x", DataType.Float, 2, 3, 4).Initializer("axes", Ints(-1)).Node("ReduceMean", ["x", "axes"], ["y"]),
        ["reducesum-opset13-all"] = () => new OnnxBuilder(13).Input("x", DataType.Float, 2, 3, 4).Node("ReduceSum", ["x"], ["y"], ("keepdims", 0L)),
        ["argmax"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3, 4).Node("ArgMax", ["x"], ["y"], ("axis", 1L)),
        ["slice-negative-steps"] = () => new OnnxBuilder().Input("x", DataType.Float, 10, 8)
            .Initializer("starts", Ints(-1, 1)).Initializer("ends", Ints(-100, 7)).Initializer("axes", Ints(0, 1)).Initializer("steps", Ints(-2, 3))
            .Node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"]),
        ["slice-opset9"] = () => new OnnxBuilder(9).Input("x", DataType.Float, 10, 8)
            .Node("Slice", ["x"], ["y"], ("starts", new long[] { 2 }), ("ends", new long[] { long.MaxValue }), ("axes", new long[] { 1 })),
        ["gather"] = () => new OnnxBuilder().Input("x", DataType.Float, 3, 4, 5).Initializer("i", NdArray.Create<long>([2, 2], [0, 1, 3, 2])).Node("Gather", ["x", "i"], ["y"], ("axis", 1L)),
        ["shape-start-end"] = () => new OnnxBuilder(15).Input("x", DataType.Float, 2, 3, 4, 5).Node("Shape", ["x"], ["y"], ("start", 1L), ("end", -1L)),
        ["split-sizes"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 7).Initializer("split", Ints(3, 4)).Node("Split", ["x", "split"], ["y", "z"], ("axis", 1L)),
        ["split-uneven-opset18"] = () => new OnnxBuilder(18).Input("x", DataType.Float, 7, 2).Node("Split", ["x"], ["y", "z", "w"], ("num_outputs", 3L)),
        ["pad"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 3).Initializer("pads", Ints(1, 0, 2, 3)).Node("Pad", ["x", "pads"], ["y"]),
        ["tile-expand-cast"] = () => new OnnxBuilder().Input("x", DataType.Float, 2, 1).Initializer("r", Ints(2, 3)).Initializer("s", Ints(3, 2, 4))
            .Node("Tile", ["x", "r"], ["t"]).Node("Expand", ["x", "s"], ["e"]).Node("Cast", ["e"], ["y"], ("to", (long)DataType.Int32)),
        ["constant-of-shape"] = () => new OnnxBuilder().Initializer("s", Ints(2, 5))
            .Node("ConstantOfShape", ["s"], ["y"], ("value", NdArray.Create<long>([1], [7L]))),
        ["broadcast-add-where-equal"] = () => new OnnxBuilder().Input("a", DataType.Float, 3, 1, 5).Input("b", DataType.Float, 4, 1)
            .Node("Add", ["a", "b"], ["s"]).Node("Equal", ["s", "b"], ["c"]).Node("Where", ["c", "a", "s"], ["y"]),
    };

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Inferred_shapes_match_what_onnx_runtime_computes(string name)
    {
        var model = Cases[name]().Build();
        var outputs = model.Graph.Node.SelectMany(n => n.Output).Where(o => o.Length > 0).ToList();
        foreach (var output in outputs) model.Graph.Output.Add(new ValueInfoProto { Name = output }); // untyped: nothing to copy from
        var inputs = model.Graph.Input.ToDictionary(i => i.Name, i => Random(TensorType.FromProto(i.Type).KnownShape!));

        var shapes = ShapeInference.Run(model);
        var actual = ModelEquivalence.Run(model, inputs);

        foreach (var output in outputs)
        {
            var inferred = shapes.TypeOf(output);
            Assert.True(inferred.KnownShape is not null, $"{output}: inferred {inferred}, expected a known shape");
            Assert.Equal(actual[output].Shape.ToArray(), inferred.KnownShape);
            Assert.Equal(actual[output].ElementType, inferred.ElementType);
        }
    }

    [Fact]
    public void Symbolic_dimensions_flow_through_and_unknowns_stay_unknown()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, "N", 3, 32, 32)
            .Input("m", DataType.Float, "M", 8, 1, 1)
            .Input("u", DataType.Float, null, 8, 30, 30)
            .Initializer("w", Random(8, 3, 3, 3))
            .Node("Conv", ["x", "w"], ["c"])
            .Node("Add", ["c", "m"], ["sum_nm"])
            .Node("Add", ["c", "c"], ["sum_nn"])
            .Node("Mul", ["c", "u"], ["product_nu"])
            .Node("NonZero", ["c"], ["nz"])
            .Build();
        var shapes = ShapeInference.Run(model);

        Assert.Equal(new TensorType(DataType.Float, [Dim.Named("N"), Dim.Of(8), Dim.Of(30), Dim.Of(30)]), shapes.TypeOf("c"));
        Assert.Equal(new TensorType(DataType.Float, [Dim.Unknown, Dim.Of(8), Dim.Of(30), Dim.Of(30)]), shapes.TypeOf("sum_nm")); // N against M
        Assert.Equal(Dim.Named("N"), shapes.TypeOf("sum_nn").Dims![0]);
        Assert.Equal(Dim.Unknown, shapes.TypeOf("product_nu").Dims![0]); // N against an unknown size
        Assert.Equal(TensorType.Unknown, shapes.TypeOf("nz")); // no rule: nothing is guessed
    }

    [Fact]
    public void A_runtime_reshape_keeps_only_the_rank_and_value_info_fills_in()
    {
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2, 3, 4)
            .Node("Shape", ["x"], ["s"])
            .Node("Reshape", ["x", "s"], ["r"])
            .Node("NonZero", ["x"], ["nz"])
            .Build();
        model.Graph.ValueInfo.Add(OnnxFactory.TensorValueInfo("nz", DataType.Int64, 3, "K"));
        var shapes = ShapeInference.Run(model);

        Assert.Equal(TensorType.Of(DataType.Int64, 3), shapes.TypeOf("s"));
        Assert.Equal(new TensorType(DataType.Float, [Dim.Unknown, Dim.Unknown, Dim.Unknown]), shapes.TypeOf("r"));
        Assert.Equal(new TensorType(DataType.Int64, [Dim.Of(3), Dim.Named("K")]), shapes.TypeOf("nz"));
    }

    [Fact]
    public void If_outputs_keep_what_both_branches_agree_on_and_branches_see_outer_types()
    {
        var thenBranch = new OnnxBuilder().Node("Relu", ["x"], ["t"]).Graph();
        thenBranch.Output.Add(new ValueInfoProto { Name = "t" });
        var elseBranch = new OnnxBuilder().Node("Concat", ["x", "x"], ["e"], ("axis", 1L)).Graph();
        elseBranch.Output.Add(new ValueInfoProto { Name = "e" });
        var model = new OnnxBuilder()
            .Input("x", DataType.Float, 2, 3)
            .Input("cond", DataType.Bool)
            .Node("If", ["cond"], ["y"], ("then_branch", thenBranch), ("else_branch", elseBranch))
            .Build();
        var view = new ModelView(model);
        var shapes = ShapeInference.Run(view);
        var branches = view.Main.Subgraphs(model.Graph.Node[0]);

        Assert.Equal(TensorType.Of(DataType.Float, 2, 3), shapes.TypeOf(branches[0], "t"));
        Assert.Equal(TensorType.Of(DataType.Float, 2, 6), shapes.TypeOf(branches[1], "e"));
        Assert.Equal(new TensorType(DataType.Float, [Dim.Of(2), Dim.Unknown]), shapes.TypeOf("y"));
    }
}
