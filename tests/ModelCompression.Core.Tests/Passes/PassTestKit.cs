using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes;

/// <summary>Shared steps of the pass tests: apply a pass to a copy, list op types, make parameters.</summary>
internal static class PassTestKit
{
    /// <summary>Applies <paramref name="pass"/> to a copy of <paramref name="model"/> and checks the result is structurally valid.</summary>
    public static (ModelProto Rewritten, int Rewrites) Apply(IGraphPass pass, ModelProto model)
    {
        var copy = model.Clone();
        var rewrites = pass.Apply(copy);
        OnnxStructure.Validate(copy, $"output of {pass.Name}");
        return (copy, rewrites);
    }

    /// <summary>The op types of every node, subgraphs included, in walk order.</summary>
    public static string[] OpTypes(ModelProto model) => OnnxWalk.Graphs(model).SelectMany(g => g.Node).Select(n => n.OpType).ToArray();

    public static int Count(ModelProto model, string opType) => OpTypes(model).Count(t => t == opType);

    public static NdArray Random(int seed, params long[] shape) => SyntheticInputs.Uniform(shape, seed);

    public static NdArray Positive(int seed, params long[] shape) => SyntheticInputs.Uniform(shape, seed, 0.5f, 1.5f);

    public static NdArray Ints(params long[] values) => NdArray.Create<long>([values.Length], values);

    /// <summary>Adds BatchNormalization parameters {prefix}.scale/.bias/.mean/.var for <paramref name="channels"/> channels.</summary>
    public static OnnxBuilder BatchNormParameters(this OnnxBuilder builder, string prefix, long channels, int seed) => builder
        .Initializer($"{prefix}.scale", Random(seed, channels))
        .Initializer($"{prefix}.bias", Random(seed + 1, channels))
        .Initializer($"{prefix}.mean", Random(seed + 2, channels))
        .Initializer($"{prefix}.var", Positive(seed + 3, channels));

    public static string[] BatchNormInputs(string x, string prefix) => [x, $"{prefix}.scale", $"{prefix}.bias", $"{prefix}.mean", $"{prefix}.var"];
}
