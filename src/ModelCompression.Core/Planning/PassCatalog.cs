using System.Globalization;
using ModelCompression.Core.Calibration;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.BiasCorrection;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Quantization.Static;
using ModelCompression.Core.Planning.Registry;

namespace ModelCompression.Core.Planning;

/// <summary>Turns plan steps into passes, and applies plans. The one place that knows every pass by name.</summary>
public static class PassCatalog
{
    public const string Lossless = "lossless";
    public const string Int8Weights = "int8-weights";
    public const string Int8Static = "int8-static";
    public const string Int8Dynamic = "int8-dynamic";
    public const string Int4Weights = "int4-weights";
    public const string Fp16Weights = "fp16-weights";
    public const string Fp16Biases = "fp16-biases";
    public const string PruneChannels = ChannelPruning.PassName;
    public const string LowRank = "lowrank";
    public const string Palettize = WeightPalettization.PassName;
    public const string PruneWeights = MagnitudePruning.PassName;
    public const string BiasCorrection = "bias-correction";
    public const string FoldFactors = FactorFolding.PassName;

    /// <summary>The <c>ranks</c> parameter of "lowrank": node=rank pairs, ';'-separated, sorted by node.</summary>
    public const string RanksParameter = "ranks";

    /// <summary>The <c>nodes</c> parameter: the node names a pass is limited to, separated by ';'.</summary>
    public const string NodesParameter = "nodes";
    public const string CalibrationParameter = "calibration";
    public const string BlockParameter = "block";
    public const string AccuracyLevelParameter = "accuracy-level";

    /// <summary>The <c>method</c> parameter of "bias-correction": "analytic" from the layer statistics, or measured on calibration data (left out).</summary>
    public const string MethodParameter = "method";

    /// <summary>
    /// The <c>rounding</c> parameter of "int8-weights", "int4-weights", "palettize" and "lowrank": "nearest" (the default,
    /// left out) or "hessian", data-aware with the layers' input moments (<see cref="PassContext.LayerStatistics"/>); a
    /// layer without moments is rounded to nearest.
    /// </summary>
    public const string RoundingParameter = Passes.DataAware.RoundingParameter.Name;

    public static PassStep Step(string pass, IEnumerable<string>? nodes = null, params (string Name, string Value)[] parameters)
    {
        var all = parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)).ToList();
        if (nodes is not null) all.Add(KeyValuePair.Create(NodesParameter, JoinNodes(nodes)));
        return new PassStep(pass, all);
    }

    /// <summary>Every pass by its plan name: each technique's (<see cref="TechniqueRegistry"/>), and the corrections the planner adds.</summary>
    private static readonly Dictionary<string, PassFactory> Factories = new(TechniqueRegistry.Passes.Concat(
    [
        KeyValuePair.Create<string, PassFactory>(BiasCorrection, CreateBiasCorrection),
        KeyValuePair.Create<string, PassFactory>(FoldFactors, (step, _) => new FactorFolding(NodesOf(step))),
    ]), StringComparer.Ordinal);

    private static IGraphPass CreateBiasCorrection(PassStep step, PassContext context) => step.Parameter(MethodParameter) switch
    {
        null => EmpiricalBiasCorrection.FromContext(context, NodesOf(step)),
        AnalyticBiasCorrection.Method => new AnalyticBiasCorrection(
            context.Reference ?? throw new InvalidOperationException("Bias correction needs the model before the lossy steps (PassContext.Reference)."),
            context.LayerStatistics ?? throw new InvalidOperationException("Analytic bias correction needs the layer statistics (PassContext.LayerStatistics)."),
            NodesOf(step)),
        var other => throw new ArgumentException($"Unknown bias correction method '{other}'.", nameof(step)),
    };

    /// <exception cref="ArgumentException">The step names no known pass.</exception>
    /// <exception cref="FormatException">A parameter does not parse.</exception>
    public static IGraphPass Create(PassStep step, PassContext context) =>
        Factories.TryGetValue(step.Pass, out var create)
            ? create(step, context)
            : throw new ArgumentException($"Unknown pass '{step.Pass}'.", nameof(step));

    /// <summary>A copy of <paramref name="source"/> with <paramref name="plan"/> applied.</summary>
    /// <exception cref="PlanStepException">A step names an unknown pass, a node the model does not have at that step, or a parameter that does not parse or is out of range.</exception>
    public static ModelProto Apply(ModelProto source, Plan plan, PassContext context)
    {
        var model = source.Clone();
        var nodes = NodeNames(model);
        for (var i = 0; i < plan.Steps.Length; i++)
        {
            var step = plan.Steps[i];
            if (!Factories.ContainsKey(step.Pass))
                throw new PlanStepException(i, "pass", $"names the pass '{step.Pass}', which this tool does not know (it knows {string.Join(", ", Factories.Keys.Order(StringComparer.Ordinal))})");
            CheckNodes(step, nodes, i);
            IGraphPass pass;
            try
            {
                pass = Create(step, context);
            }
            catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
            {
                throw new PlanStepException(i, "parameters", Describe(e), e);
            }
            pass.Apply(model);
            if (i < plan.Steps.Length - 1) nodes.UnionWith(NodeNames(model));
        }
        return model;
    }

    private static HashSet<string> NodeNames(ModelProto model) =>
        OnnxWalk.Graphs(model).SelectMany(g => g.Node).Select(n => n.Name).ToHashSet(StringComparer.Ordinal);

    /// <summary>Parameters that name nodes: a ';'-separated list, or a node=value map (<see cref="ParameterMap"/>); channel groups are named by their first producer.</summary>
    private static readonly string[] NodeListParameters = [NodesParameter];
    private static readonly string[] NodeMapParameters = [RanksParameter, PassParameters.Bits, PassParameters.Sparsity, ChannelPruning.RatiosParameter];

    /// <summary>
    /// A node a pass does not find is skipped without a word, so a plan naming one would silently give another model.
    /// Names of nodes an earlier step replaced still count (a factored layer keeps its name as the layer's identity).
    /// </summary>
    private static void CheckNodes(PassStep step, IReadOnlySet<string> nodes, int index)
    {
        var named = new List<(string Parameter, string Node)>();
        foreach (var parameter in NodeListParameters)
            if (step.Parameter(parameter) is { } list)
                named.AddRange(list.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(n => (parameter, n)));
        foreach (var parameter in NodeMapParameters)
        {
            if (step.Parameter(parameter) is not { } map) continue;
            try
            {
                named.AddRange(ParameterMap.Parse(map).Keys.Select(n => (parameter, n)));
            }
            catch (FormatException e)
            {
                throw new PlanStepException(index, $"parameters.{parameter}", Describe(e), e);
            }
        }
        if (named.FirstOrDefault(n => !nodes.Contains(n.Node)) is ({ } missingIn, { } missing))
            throw new PlanStepException(index, $"parameters.{missingIn}", $"names the node '{missing}', which the model does not have");
    }

    // The first line of an exception's message (an ArgumentException adds its parameter on another), with the value it refused.
    private static string Describe(Exception e)
    {
        var text = e.Message.Split('\n')[0].Trim();
        var parameter = e is ArgumentException { ParamName: { } name } ? $" (Parameter '{name}')" : "";
        if (parameter.Length > 0 && text.EndsWith(parameter, StringComparison.Ordinal)) text = text[..^parameter.Length];
        text = text.TrimEnd('.');
        return e is ArgumentOutOfRangeException { ActualValue: { } value } ? $"is invalid: {text} (found {value})" : $"is invalid: {text}";
    }

    public static string JoinNodes(IEnumerable<string> nodes) => string.Join(";", nodes.Order(StringComparer.Ordinal));

    /// <summary>Static int8 with asymmetric (uint8) activations: ORT's symmetric int8 kernels measured 2.4–5.6× slower here.</summary>
    public static StaticQuantizationOptions StaticOptions(string calibration) => new()
    {
        Activations = new CalibrationSettings(calibration switch
        {
            "minmax" => CalibrationMethod.MinMax,
            "percentile" => CalibrationMethod.Percentile,
            "entropy" => CalibrationMethod.Entropy,
            _ => throw new ArgumentException($"Unknown calibration method '{calibration}'.", nameof(calibration)),
        }),
    };

    internal static StaticQuantizationOptions StaticOptions(PassStep step) => StaticOptions(step.Parameter(CalibrationParameter) ?? "minmax");

    internal static IReadOnlySet<string>? NodesOf(PassStep step) =>
        step.Parameter(NodesParameter) is { } nodes
            ? nodes.Split(';', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            : null;

    internal static Rounding RoundingOf(PassStep step) => Passes.DataAware.RoundingParameter.Parse(step.Parameter(RoundingParameter));

    internal static int IntParameter(PassStep step, string name, int fallback) =>
        step.Parameter(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    /// <summary>Static int8 with the calibration the context keeps for the model it is applied to.</summary>
    internal sealed class CalibratedStaticQuantization(IReadOnlySet<string>? nodes, StaticQuantizationOptions options, PassContext context) : IGraphPass
    {
        public string Name => Int8Static;

        public int Apply(ModelProto model) => new Int8StaticQuantization(context.CalibrationFor(model), nodes, options).Apply(model);
    }
}
