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

    public static PassStep Step(string pass, IEnumerable<string>? nodes = null, params (string Name, string Value)[] parameters)
    {
        var all = parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)).ToList();
        if (nodes is not null) all.Add(KeyValuePair.Create(NodesParameter, JoinNodes(nodes)));
        return new PassStep(pass, all);
    }

    public static IGraphPass Create(PassStep step, PassContext context) => step.Pass switch
    {
        Lossless => new LosslessPipeline(),
        Int8Weights => new Int8WeightQuantization(NodesOf(step)),
        _ => throw new ArgumentException($"Unknown pass '{step.Pass}'.", nameof(step)),
    };

    /// <summary>A copy of <paramref name="source"/> with <paramref name="plan"/> applied.</summary>
    public static ModelProto Apply(ModelProto source, Plan plan, PassContext context)
    {
        var model = source.Clone();
        foreach (var step in plan.Steps) Create(step, context).Apply(model);
        return model;
    }

    public static string JoinNodes(IEnumerable<string> nodes) => string.Join(";", nodes.Order(StringComparer.Ordinal));

    private static IReadOnlySet<string>? NodesOf(PassStep step) =>
        step.Parameter(NodesParameter) is { } nodes
            ? nodes.Split(';', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            : null;
}
