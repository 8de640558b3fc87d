using System.Text;
using ModelCompression.Core.Data;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.Core.Tensors;
using ModelCompression.Testing;
using ModelCompression.Testing.Fuzzing;

namespace ModelCompression.Core.Tests.Fuzzing;

/// <summary>The plan lock as untrusted input: its JSON, and the plans a lock with a valid fingerprint can hold.</summary>
internal static class LockFuzzTargets
{
    private const string LockPath = "model.compression.lock.json";

    /// <summary>A lock file's text parsed, and each plan compared with the inputs it names, as a build reads it.</summary>
    public static FuzzTarget LockFile()
    {
        var seeds = new[] { PlanLockSet.Of([Locked(TwoSteps, 0.01), Locked(EveryPass, 0.02) with { Platform = "linux-x64" }]), PlanLockSet.Of([Locked(TwoSteps, 0.01)]) }
            .Select(set => Encoding.UTF8.GetBytes(PlanLockFile.ToJson(set))).ToArray();
        var json = new ByteMutator("{", "}", "[", "]", ",", ":", "\"", "null", "true", "1e400", "-1", "0", "2", "\"plans\"", "\"plan\"",
            "\"formatVersion\"", "\"fingerprint\"", "\"platform\"", "3", "\"parameters\"", "\"settings\"", "\\u0000", new string('[', 40));
        return new FuzzTarget("plan-lock", seeds, json, bytes =>
        {
            var set = PlanLockFile.Parse(Encoding.UTF8.GetString(bytes), LockPath);
            foreach (var plan in set.Plans) set.StatusFor(plan.Inputs);
            return null;
        }, FuzzTarget.CompressionCode);
    }

    /// <summary>
    /// Plans written as "pass key=value key=value" lines, fingerprinted as the tool would (so they get past the
    /// fingerprint) and applied to a small model as a locked plan is: a plan that does not apply must be a
    /// <see cref="PlanStepException"/> (MC5004 in a build) or a coded error, never anything else.
    /// </summary>
    public static FuzzTarget LockedPlans()
    {
        var model = Model();
        var context = new PassContext(Calibration(model)) { Reference = model };
        var words = new ByteMutator(
            "lossless", "int8-weights", "int8-static", "int8-dynamic", "int4-weights", "fp16-weights", "prune-channels", "lowrank",
            "palettize", "prune-weights", "bias-correction", "fold-factors", "nodes=", "ranks=", "bits=", "sparsity=", "ratios=",
            "block=", "accuracy-level=", "calibration=", "granularity=", "group=", "table=", "global-sparsity=", "importance=",
            "layer_a", "layer_b", "relu", "=", ";", " ", "\n", "0", "1", "2", "3", "4", "8", "16", "32", "99", "-3", "0.5", "0.9999", "1.5",
            "NaN", "-0", "1e9", "minmax", "entropy", "percentile", "float16", "channel-group", "tensor", "l2", "fpgm");
        return new FuzzTarget("locked-plans", [Encoding.UTF8.GetBytes(TwoSteps), Encoding.UTF8.GetBytes(EveryPass)], words, bytes =>
        {
            var json = PlanLockFile.ToJson(PlanLockSet.Of([Locked(Encoding.UTF8.GetString(bytes), 0.01)]));
            var plan = Assert.Single(PlanLockFile.Parse(json, LockPath).Plans).Plan;
            PassCatalog.Apply(model, plan, context);
            return null;
        }, e => e is PlanStepException ? DiagnosticCodes.LockInvalid : FuzzTarget.CompressionCode(e));
    }

    private static class DiagnosticCodes
    {
        public const string LockInvalid = Diagnostics.DiagnosticCode.LockInvalid;
    }

    private const string TwoSteps = "lossless\nint8-weights nodes=layer_a;layer_b";

    private const string EveryPass =
        "lossless\nlowrank ranks=layer_a=4\npalettize bits=layer_b=3 granularity=channel-group group=4\nprune-weights sparsity=layer_a=0.75 bits=layer_a=4\n" +
        "int4-weights nodes=layer_b block=16 accuracy-level=4\nint8-static nodes=layer_a calibration=entropy\nbias-correction nodes=layer_a\nfold-factors nodes=layer_a";

    private static PlanLock Locked(string planText, double maxAccuracyDrop) => new(
        new LockInputs("0.1.0", new string('a', 64), new string('b', 64), null,
            new LockSettings("accuracy", "fusion;int8", maxAccuracyDrop, null, null, "validation.npz")),
        "1.31.1", PlanOf(planText), new LockedResult("int8", 0.9, 0.9, 0.91, 1000, 4000), new string('c', 64));

    // One step a line: the pass, then key=value words (a value may hold '=' and ';', as node maps do).
    private static Plan PlanOf(string text) => new(text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
    {
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var parameters = words.Skip(1).Select(w => w.Split('=', 2)).Where(kv => kv.Length == 2)
            .DistinctBy(kv => kv[0]).Select(kv => KeyValuePair.Create(kv[0], kv[1]));
        return new PassStep(words.Length == 0 ? "" : words[0], parameters);
    }));

    private static ModelProto Model() => TestModels.Mlp(32, 32, 10, seed: 5);

    private static SampleSet Calibration(ModelProto model) =>
        SampleSet.FromArrays("calibration.npz", new Dictionary<string, NdArray> { ["x"] = SyntheticInputs.Uniform([16, 32], 7) }, model);
}
