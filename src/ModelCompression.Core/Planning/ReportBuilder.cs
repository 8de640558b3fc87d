using System.Globalization;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Statistics;

namespace ModelCompression.Core.Planning;

/// <summary>What the compressor knows about one run, turned into the report's plain records.</summary>
public sealed record ReportFacts(
    CompressionRequest Request,
    MetricKind Metric,
    Data.SampleSet Validation,
    Evaluation.Reference ValidationReference,
    Evaluation.Reference SearchReference,
    long OriginalSizeBytes,
    IReadOnlyList<Candidate> Candidates,
    CandidateSelection Selection,
    IReadOnlyList<SettingProbe> Probes,
    SearchCounts Counts,
    TimeSpan SearchTime,
    PlanSource PlanSource,
    string? LockFile,
    IReadOnlyList<string> StaleLockReasons)
{
    /// <summary>What distillation tried: the post-training choice and each sketch distilled; null when the build did not distil.</summary>
    public (Candidate? WithoutDistillation, IReadOnlyList<DistilledCandidate> Sketches)? Distillation { get; init; }
}

/// <summary>How much the search predicted and measured.</summary>
/// <param name="CombinationsMeasured">Candidates measured on the search split (whole-model runs).</param>
public sealed record SearchCounts(int OptionsPredicted, int OptionsMeasured, int CombinationsMeasured, bool TimedOut)
{
    public static SearchCounts None { get; } = new(0, 0, 0, false);
}

/// <summary>Builds the <see cref="CompressionReport"/> from a run's measurements.</summary>
public static class ReportBuilder
{
    public static CompressionReport Build(ReportFacts facts)
    {
        var budgets = facts.Request.Budgets;
        var judged = facts.Selection.Judged.ToDictionary(c => c.Hash);
        var chosenHash = facts.Selection.Chosen?.Hash;
        CandidateSummary Summarize(Candidate c)
        {
            var validation = judged.GetValueOrDefault(c.Hash)?.Validation ?? c.Validation;
            return new CandidateSummary(c.Label, c.Plan.ToString(), c.SizeBytes, c.Search.Score, c.Search.Drop,
                budgets.AllowsDrop((validation ?? c.Search).Drop), budgets.AllowsSize(c.SizeBytes), c.Hash == chosenHash)
            {
                ValidationScore = validation?.Score,
                ValidationDrop = validation?.Drop,
                LatencyMilliseconds = c.Latency.Candidate.TotalMilliseconds,
                LatencyRatio = c.Latency.Ratio,
                MeetsLatency = budgets.AllowsLatency(c.Latency),
                ExpandedAtLoad = c.Plan.Steps.Any(s => s.Pass is PassCatalog.Palettize or PassCatalog.PruneWeights),
            };
        }

        var chosen = facts.Selection.Chosen;
        var final = chosen?.Sketch;
        var searchIsValidation = facts.SearchReference.Samples.SharesDataWith(facts.Validation) && facts.SearchReference.Samples.Count == facts.Validation.Count;
        var report = new CompressionReport
        {
            Model = facts.Request.ModelPath,
            ToolVersion = Compressor.ToolVersion,
            Metric = MetricKinds.Name(facts.Metric),
            ValidationData = facts.Validation.File,
            ValidationSamples = facts.Validation.Count,
            Budgets = new BudgetSummary(budgets.MaxAccuracyDrop, budgets.MaxSizeBytes, budgets.MaxLatency?.TotalMilliseconds),
            OriginalSizeBytes = facts.OriginalSizeBytes,
            OriginalScore = facts.ValidationReference.Score,
            OriginalLatencyMilliseconds = facts.Candidates.Count > 0 ? facts.Candidates[0].Latency.Baseline.TotalMilliseconds : null,
            Candidates = facts.Candidates.Select(Summarize).ToList(),
            Chosen = chosen is null ? null : Summarize(chosen),
            BestFailing = facts.Selection.BestFailing is { } failing ? Summarize(failing) : null,
            Failure = facts.Selection.Failure?.Message,
            SearchData = searchIsValidation ? null : facts.SearchReference.Samples.File,
            SearchSamples = searchIsValidation ? null : facts.SearchReference.Samples.Count,
            OriginalSearchScore = facts.SearchReference.Score,
            SearchSeconds = facts.SearchTime.TotalSeconds,
            OptionsPredicted = facts.PlanSource == PlanSource.Search ? facts.Counts.OptionsPredicted : null,
            OptionsMeasured = facts.PlanSource == PlanSource.Search ? facts.Counts.OptionsMeasured : null,
            SearchTimedOut = facts.Counts.TimedOut,
            PlanSource = facts.PlanSource,
            LockFile = facts.LockFile,
            StaleLockReasons = facts.StaleLockReasons,
            // Per layer: its most aggressive setting measured alone, and where it ended.
            Sensitivity = facts.Probes.GroupBy(p => (p.Kind, p.Unit)).Select(g => g.MinBy(p => p.Bytes)!)
                .Select(p => new NodeSensitivity(p.Unit, p.OpType, p.Label, p.Drop, Final(p, final)) { Predicted = p.Predicted }).ToList(),
            Notes = Notes(facts),
            Distillation = facts.Distillation is { } d
                ? new DistillationSummary(d.WithoutDistillation is { } without ? Summarize(without) : null, chosen is null ? null : Summarize(chosen),
                    d.Sketches.Select(s => new DistilledSketch(s.Distilled.Label, s.Distilled.SizeBytes, s.Untrained.Search.Score, s.Distilled.Search.Score,
                        s.Untrained.Validation!.Score, s.Distilled.Validation!.Score, s.Epochs.Count)).ToList())
                : null,
        };
        return WithStatistics(report, facts);
    }

    /// <summary>
    /// Adds parameters and FLOPs (batch 1, <see cref="ModelStatistics"/>) of the original and of the candidates the
    /// report singles out: the chosen one, the closest failing one and the build log's rows. Not of every candidate:
    /// counting takes shape inference (and, for run-time shape arithmetic, constant folding) per model, measured at
    /// 1–80 ms on the shared models but about 0.4 s on silero-vad, and a search can measure hundreds of candidates.
    /// </summary>
    private static CompressionReport WithStatistics(CompressionReport report, ReportFacts facts)
    {
        var sample = facts.Validation.Sample(0);
        var counted = new Dictionary<string, ModelStatistics>(StringComparer.Ordinal);
        ModelStatistics Of(Candidate c) => counted.TryGetValue(c.Hash, out var known) ? known : counted[c.Hash] = ModelStatistics.Of(c.Model, sample);
        CandidateSummary? Count(CandidateSummary? summary, Candidate? candidate) =>
            summary is null || candidate is null ? summary : summary with { ParameterCount = Of(candidate).Parameters, Flops = Of(candidate).Flops };

        // Summaries are made one per candidate, in order (equal summaries are the same plan, so the same model).
        var shown = ReportWriter.LogSelection(report).ToHashSet();
        var singledOut = new HashSet<string?>(StringComparer.Ordinal) { facts.Selection.Chosen?.Hash, facts.Selection.BestFailing?.Hash };
        var candidates = report.Candidates
            .Select((summary, i) => shown.Contains(summary) || singledOut.Contains(facts.Candidates[i].Hash) ? Count(summary, facts.Candidates[i])! : summary)
            .ToList();
        var original = ModelStatistics.Of(OnnxModelFile.Load(facts.Request.ModelPath), sample);
        var unresolved = original.UnresolvedNodes.Concat(counted.Values.SelectMany(s => s.UnresolvedNodes)).Distinct(StringComparer.Ordinal).ToList();
        return report with
        {
            OriginalParameterCount = original.Parameters,
            OriginalFlops = original.Flops,
            Candidates = candidates,
            Chosen = Count(report.Chosen, facts.Selection.Chosen),
            BestFailing = Count(report.BestFailing, facts.Selection.BestFailing),
            Notes = unresolved.Count == 0 ? report.Notes : [.. report.Notes,
                $"FLOPs count convolutions, matrix products and recurrent layers for one batch-1 run; the shapes of {unresolved.Count} of them " +
                $"({string.Join(", ", unresolved.Take(5))}{(unresolved.Count > 5 ? ", …" : "")}) stayed unknown, so those FLOPs are lower bounds."],
        };
    }

    private static string Final(SettingProbe probe, CompressionSketch? final) =>
        final is null ? "" : probe.Kind == UnitKind.Layer
            ? final.SettingOf(probe.Unit).ToString()
            : string.Create(CultureInfo.InvariantCulture, $"{final.Pruning.GetValueOrDefault(probe.Unit):P0} of its channels pruned");

    private static List<string> Notes(ReportFacts facts)
    {
        var notes = new List<string>
        {
            "Weight-only forms (int8 and fp16 weights) are expanded to float when ONNX Runtime loads the model: the file shrinks, a loaded session's memory does not.",
            string.Create(CultureInfo.InvariantCulture, $"Latency is the median of batch-1 runs on one thread, measured interleaved with the original in the same process; without MaxLatency a candidate may be at most {Budgets.LatencyTolerance:P0} slower (measurement noise)."),
        };
        if (facts.Selection.Chosen is null && facts.Selection.BestFailing is not null)
            notes.Add("The closest candidate is written beside this report as .best-candidate.onnx, for inspection.");
        return notes;
    }
}
