using ModelCompression.Core.Graph;
using ModelCompression.Core.Onnx;

namespace ModelCompression.Core.Passes.Lossless;

/// <summary>
/// Runs the lossless passes in rounds until a round changes nothing. Each pass runs on a snapshot-guarded
/// model: if it throws, or leaves a model that is not well formed (undefined values, unsorted nodes, a
/// changed interface), its input is restored and the pass is recorded as skipped, so a model no pass can
/// handle comes out unchanged, never corrupted.
/// </summary>
public sealed class LosslessPipeline : IGraphPass
{
    /// <summary>Rounds are a safety net: every pass only shrinks the graph, so a fixpoint comes in two or three.</summary>
    public const int MaxRounds = 8;

    public LosslessPipeline()
        : this([
            new ConstantsToInitializers(),
            new IdentityElimination(),
            new ConstantFolding(),
            new BatchNormFolding(),
            new MatMulAddToGemm(),
            new DeadCodeElimination(),
        ])
    {
    }

    public LosslessPipeline(IReadOnlyList<IGraphPass> passes) => Passes = passes;

    public IReadOnlyList<IGraphPass> Passes { get; }

    public string Name => "lossless";

    public int Apply(ModelProto model) => Run(model).TotalRewrites;

    /// <summary>Rewrites <paramref name="model"/> in place and reports what each pass did.</summary>
    public PipelineReport Run(ModelProto model)
    {
        var rewrites = Passes.ToDictionary(p => p.Name, _ => 0);
        var failures = new Dictionary<string, string>();
        var rounds = 0;
        while (rounds < MaxRounds)
        {
            rounds++;
            var changed = 0;
            foreach (var pass in Passes)
            {
                if (failures.ContainsKey(pass.Name)) continue;
                var snapshot = new ModelSnapshot(model);
                var interfaceBefore = Interface(model);
                var sortedBefore = IsSorted(model);
                try
                {
                    var count = pass.Apply(model);
                    EnsureWellFormed(model, interfaceBefore, sortedBefore);
                    rewrites[pass.Name] += count;
                    changed += count;
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    snapshot.RestoreInto(model);
                    failures[pass.Name] = $"{e.GetType().Name}: {e.Message}";
                }
            }
            if (changed == 0) break;
        }
        return new PipelineReport(
            Passes.Select(p => new PassOutcome(p.Name, rewrites[p.Name], failures.GetValueOrDefault(p.Name))).ToList(), rounds);
    }

    // Names and order of the main graph's inputs (initializers aside) and outputs: what callers bind to.
    private static string Interface(ModelProto model)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        return string.Join(",", model.Graph.Input.Select(i => i.Name).Where(n => !initializers.Contains(n)))
            + " -> " + string.Join(",", model.Graph.Output.Select(o => o.Name));
    }

    private static void EnsureWellFormed(ModelProto model, string interfaceBefore, bool sortedBefore)
    {
        OnnxStructure.Validate(model, "the rewritten model");
        if (Interface(model) != interfaceBefore)
            throw new InvalidOperationException($"The pass changed the model's interface from '{interfaceBefore}' to '{Interface(model)}'.");
        if (sortedBefore && !IsSorted(model))
            throw new InvalidOperationException("The pass left nodes out of topological order.");
    }

    // ONNX requires nodes in topological order; a pass must not break it (TopologicalOrder also throws on a cycle).
    private static bool IsSorted(ModelProto model)
    {
        foreach (var graph in new ModelView(model).Graphs())
        {
            IReadOnlyList<NodeProto> order;
            try { order = graph.TopologicalOrder(); }
            catch (InvalidOperationException) { return false; }
            for (var i = 0; i < order.Count; i++)
                if (!ReferenceEquals(order[i], graph.Nodes[i])) return false;
        }
        return true;
    }
}

/// <summary>What one pass did over a pipeline run: its rewrites, or why it was skipped (its changes undone).</summary>
public sealed record PassOutcome(string Pass, int Rewrites, string? SkippedBecause)
{
    public bool Skipped => SkippedBecause is not null;

    public override string ToString() => Skipped ? $"{Pass}: skipped ({SkippedBecause})" : $"{Pass}: {Rewrites}";
}

public sealed record PipelineReport(IReadOnlyList<PassOutcome> Passes, int Rounds)
{
    public int TotalRewrites => Passes.Sum(p => p.Rewrites);

    public bool AnySkipped => Passes.Any(p => p.Skipped);

    public override string ToString() => $"{string.Join(", ", Passes)} ({Rounds} rounds)";
}
