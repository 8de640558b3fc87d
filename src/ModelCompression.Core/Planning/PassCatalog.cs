using System.Globalization;
using ModelCompression.Core.Calibration;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.BiasCorrection;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Passes.LowRank;
using ModelCompression.Core.Passes.Palettization;
using ModelCompression.Core.Passes.Sparsity;
using ModelCompression.Core.Passes.Pruning;
using ModelCompression.Core.Passes.Quantization;
using ModelCompression.Core.Passes.Quantization.Dynamic;
using ModelCompression.Core.Passes.Quantization.Int4;
using ModelCompression.Core.Passes.Quantization.Static;

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
        Fp16Weights => new Fp16WeightConversion(NodesOf(step)),
        Int4Weights => new Int4WeightQuantization(NodesOf(step), new Int4Settings(
            BlockSize: IntParameter(step, BlockParameter, Int4Settings.Default.BlockSize),
            AccuracyLevel: IntParameter(step, AccuracyLevelParameter, 0)).Validated()),
        Int8Dynamic => new Int8DynamicQuantization(NodesOf(step)),
        Int8Static => new CalibratedStaticQuantization(NodesOf(step), StaticOptions(step), context),
        LowRank => new LowRankFactorization(ParameterMap.ParseInts(step.Parameter(RanksParameter) ?? ""), SpectrumCache.Shared),
        BiasCorrection => EmpiricalBiasCorrection.FromContext(context, NodesOf(step)),
        Palettize => WeightPalettization.FromParameters(step.Parameters),
        PruneWeights => MagnitudePruning.FromParameters(step.Parameters),
        FoldFactors => new FactorFolding(NodesOf(step)),
        PruneChannels => new ChannelPruning(ChannelPruning.ParseRatios(step.Parameter(ChannelPruning.RatiosParameter) ?? ""),
            ChannelPruning.ParseCriterion(step.Parameter(ChannelPruning.ImportanceParameter) ?? "l1")),
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

    private static StaticQuantizationOptions StaticOptions(PassStep step) => StaticOptions(step.Parameter(CalibrationParameter) ?? "minmax");

    private static IReadOnlySet<string>? NodesOf(PassStep step) =>
        step.Parameter(NodesParameter) is { } nodes
            ? nodes.Split(';', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal)
            : null;

    private static int IntParameter(PassStep step, string name, int fallback) =>
        step.Parameter(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

    /// <summary>Static int8 with the calibration the context keeps for the model it is applied to.</summary>
    private sealed class CalibratedStaticQuantization(IReadOnlySet<string>? nodes, StaticQuantizationOptions options, PassContext context) : IGraphPass
    {
        public string Name => Int8Static;

        public int Apply(ModelProto model) => new Int8StaticQuantization(context.CalibrationFor(model), nodes, options).Apply(model);
    }
}
