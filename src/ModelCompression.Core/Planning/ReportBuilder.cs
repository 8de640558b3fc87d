using ModelCompression.Core.Reporting;

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
    TimeSpan SearchTime,
    PlanSource PlanSource,
    string? LockFile,
    IReadOnlyList<string> StaleLockReasons);

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
            };
        }

        var chosen = facts.Selection.Chosen;
        var final = chosen is null ? null : PlanBuilder.SketchOf(chosen.Plan);
        var searchIsValidation = facts.SearchReference.Samples.SharesDataWith(facts.Validation) && facts.SearchReference.Samples.Count == facts.Validation.Count;
        return new CompressionReport
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
            PlanSource = facts.PlanSource,
            LockFile = facts.LockFile,
            StaleLockReasons = facts.StaleLockReasons,
            // Per layer: its most aggressive setting measured alone, and where it ended.
            Sensitivity = facts.Probes.GroupBy(p => (p.Kind, p.Unit)).Select(g => g.MinBy(p => p.Bytes)!)
                .Select(p => new NodeSensitivity(p.Unit, p.OpType, p.Label, p.Drop, Final(p, final))).ToList(),
            Notes = Notes(facts),
        };
    }

    private static string Final(SettingProbe probe, CompressionSketch? final) =>
        final is null ? "" : probe.Kind == UnitKind.Layer
            ? final.SettingOf(probe.Unit).ToString()
            : $"{final.Pruning.GetValueOrDefault(probe.Unit):P0} of its channels pruned";

    private static List<string> Notes(ReportFacts facts)
    {
        var notes = new List<string>
        {
            "Weight-only forms (int8 and fp16 weights) are expanded to float when ONNX Runtime loads the model: the file shrinks, a loaded session's memory does not.",
            $"Latency is the median of batch-1 runs on one thread, measured interleaved with the original in the same process; without MaxLatency a candidate may be at most {Budgets.LatencyTolerance:P0} slower (measurement noise).",
        };
        if (facts.Selection.Chosen is null && facts.Selection.BestFailing is not null)
            notes.Add("The closest candidate is written beside this report as .best-candidate.onnx, for inspection.");
        return notes;
    }
}
