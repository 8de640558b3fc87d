using ModelCompression.Core.Graph;
using ModelCompression.Core.Graph.Shapes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.Pruning;

/// <summary>Weights with chosen all-zero channels, pass application with checks, shapes and multiply-accumulate counts.</summary>
internal static class PruningTestKit
{
    /// <summary>Tight enough for "removing zero channels changes nothing": only summation order may differ.</summary>
    public static Tolerance ZeroChannels { get; } = new(1e-6, 1e-6);

    /// <summary>Uniform values in [-1, 1) of <paramref name="shape"/>, with every element of the listed positions of <paramref name="axis"/> set to 0.</summary>
    public static NdArray Weights(int seed, long[] shape, int axis = 0, params int[] zero)
    {
        var values = SyntheticInputs.Uniform(shape, seed).ToFloats();
        var inner = shape.Skip(axis + 1).Aggregate(1L, (a, d) => a * d);
        for (var i = 0L; i < values.LongLength; i++)
            if (zero.Contains((int)(i / inner % shape[axis]))) values[i] = 0;
        return NdArray.Create<float>(shape, values);
    }

    public static NdArray Ints(params long[] values) => NdArray.Create<long>([values.Length], values);

    /// <summary>Applies the pass to a copy, checks the result is valid ONNX that ONNX Runtime runs like the original (within <paramref name="tolerance"/>).</summary>
    public static ModelProto PruneAndCompare(ModelProto model, ChannelPruning pass, IReadOnlyDictionary<string, NdArray> inputs, int expectedRemoved, Tolerance? tolerance = null)
    {
        var pruned = model.Clone();
        Assert.Equal(expectedRemoved, pass.Apply(pruned));
        OnnxStructure.Validate(pruned, "pruned model");
        ModelEquivalence.AssertSameOutputs(model, pruned, inputs, tolerance ?? ZeroChannels);
        return pruned;
    }

    public static ChannelPruning Prune(params (string Group, double Ratio)[] ratios) =>
        new(ratios.ToDictionary(r => r.Group, r => r.Ratio), channelMultiple: 1);

    public static long[] Dims(ModelProto model, string initializerOrInput) =>
        model.Graph.Initializer.FirstOrDefault(t => t.Name == initializerOrInput)?.Dims.ToArray()
        ?? throw new InvalidOperationException($"No initializer '{initializerOrInput}'.");

    /// <summary>The shape of the constant a node reads as input <paramref name="index"/>.</summary>
    public static long[] InputDims(ModelProto model, string node, int index)
    {
        var n = model.Graph.Node.Single(x => x.Name == node);
        return new ModelView(model).Main.ConstantTensor(n.Input[index])!.Dims.ToArray();
    }

    public static ChannelGroup Group(ModelProto model, string id) => ChannelPruning.Groups(model).Single(g => g.Id == id);

    /// <summary>
    /// Multiply-accumulates of the Conv, Gemm and MatMul nodes for one run with the given input shape (Conv:
    /// output elements × C/group × kernel; Gemm/MatMul: output elements × K). An output size shape inference cannot
    /// tell (a row count behind a Reshape computed at run time) counts as 1: the batch size these counts are made at.
    /// </summary>
    public static long MultiplyAccumulates(ModelProto model, string input, params long[] shape)
    {
        var copy = model.Clone();
        var declared = copy.Graph.Input.Single(i => i.Name == input);
        declared.Type.TensorType.Shape.Dim.Clear();
        foreach (var d in shape) declared.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        var view = new ModelView(copy);
        var shapes = ShapeInference.Run(view);
        long total = 0;
        foreach (var node in copy.Graph.Node)
        {
            if (node.OpType is not ("Conv" or "Gemm" or "MatMul")) continue;
            var output = shapes.TypeOf(node.Output[0]).Dims?.Select(d => d.Value ?? 1).ToArray();
            Assert.NotNull(output);
            var weight = shapes.TypeOf(node.Input[1]).KnownShape!;
            var elements = output.Aggregate(1L, (a, d) => a * d);
            total += node.OpType switch
            {
                "Conv" => elements * weight.Skip(1).Aggregate(1L, (a, d) => a * d),
                "Gemm" => elements * (node.GetInt("transB", 0) != 0 ? weight[1] : weight[0]),
                _ => elements * weight[^2],
            };
        }
        return total;
    }
}
