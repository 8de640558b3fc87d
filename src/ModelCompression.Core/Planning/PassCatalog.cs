using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.Quantization;

namespace ModelCompression.Core.Planning;

/// <summary>Turns plan steps into passes, and applies plans. The one place that knows every pass by name.</summary>
public static class PassCatalog
{
    public const string Lossless = "lossless";
    public const string Int8Weights = "int8-weights";

    /// <summary>The <c>nodes</c> parameter: the node names a pass is limited to, separated by ';'.</summary>
    public const string NodesParameter = "nodes";

    public static PassStep Int8WeightsStep(IEnumerable<string>? nodes = null) =>
        new(Int8Weights, nodes is null ? null : [new(NodesParameter, JoinNodes(nodes))]);

    public static IGraphPass Create(PassStep step) => step.Pass switch
    {
        Lossless => new LosslessPipeline(),
        Int8Weights => new Int8WeightQuantization(NodesOf(step)),
        _ => throw new ArgumentException($"Unknown pass '{step.Pass}'.", nameof(step)),
    };

    /// <summary>A copy of <paramref name="source"/> with <paramref name="plan"/> applied.</summary>
    public static ModelProto Apply(ModelProto source, Plan plan)
    {
        var model = source.Clone();
        foreach (var step in plan.Steps) Create(step).Apply(model);
        return model;
    }

    public static string JoinNodes(IEnumerable<string> nodes) => string.Join(";", nodes.Order(StringComparer.Ordinal));

    private static IReadOnlySet<string>? NodesOf(PassStep step) =>
        step.Parameter(NodesParameter) is { } nodes
            ? nodes.Split(';', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            : null;
}
