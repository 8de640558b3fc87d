using System.Reflection;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Distillation;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.IO;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.Core.Planning.Prediction;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;

namespace ModelCompression.Core.Planning;

/// <summary>
/// Compresses one model: load it and its data, measure the original, search for the smallest
/// candidate within the budgets, then write the model, its signature sidecar and the report.
/// User errors surface as <see cref="CompressionException"/>s; budget failures as diagnostics.
/// </summary>
/// <param name="distiller">
/// Makes the distiller (the worker loads the ModelCompression.Build.Distillation plugin and libtorch in it) the first time a
/// plan distils, never otherwise; null when distillation is not possible (<see cref="CompressionRequest.CanDistill"/>).
/// </param>
/// <param name="time">The clock of the search's progress lines and time limit (a test passes a manual one).</param>
public sealed class Compressor(ICompressionLog log, Func<IDistiller>? distiller = null, TimeProvider? time = null)
{
    private readonly Lazy<IDistiller>? _distiller = distiller is null ? null : new Lazy<IDistiller>(distiller);

    /// <summary>The distiller, made on first use; null without one. Loading it may throw (the plugin or libtorch does not load).</summary>
    internal IDistiller? Distiller => _distiller?.Value;

    /// <summary>
    /// At most this many samples score candidates during the search; the full validation data judges the winner.
    /// With accuracy one sample is 1/n of a point: a 1% budget spans ten samples at 1024, five at 512, too coarse to
    /// tell the last candidates apart.
    /// </summary>
    public const int SearchSamples = 1024;

    public static string ToolVersion { get; } =
        typeof(Compressor).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>How long a build waits for another that is planning the same model with the same settings, beyond its search time.</summary>
    public static TimeSpan PlanningWaitMargin { get; } = TimeSpan.FromMinutes(30);

    /// <exception cref="CompressionException">A user error (MCnnnn); no output of this run is left behind.</exception>
    public void Run(CompressionRequest request)
    {
        try
        {
            Compress(request);
        }
        catch
        {
            // A failed run must leave nothing that the next, incremental build would take as its result.
            DeleteOutputs(request);
            throw;
        }
    }

    private void Compress(CompressionRequest request)
    {
        var modelFile = request.ModelPath;
        var name = Path.GetFileNameWithoutExtension(modelFile);
        var source = OnnxModelFile.Load(modelFile);
        new NodeNaming().Apply(source);
        var basePlan = request.Techniques.HasFlag(Technique.Fusion) ? Plan.Empty.Then(new PassStep(PassCatalog.Lossless)) : Plan.Empty;

        if (request.ValidationDataPath is null)
        {
            log.Report(Diagnostic.Warning(DiagnosticCode.NoValidationData, modelFile,
                "No ValidationData is set, so accuracy cannot be measured and only lossless passes run. Set ValidationData to an .npz of samples to allow quantization."));
            var model = ValueNameCompaction.Compacted(PassCatalog.Apply(source, basePlan, PassContext.None));
            WriteOutputs(request, model, sample: null, lockedPlan: null);
            log.Info($"{name}: wrote {Quantity.FormatSize(OnnxModelFile.SizeOf(model))} (lossless only)");
            return;
        }

        var validation = SampleSet.Load(request.ValidationDataPath, DataSetting.ValidationData, source);
        var calibration = request.HasSeparateCalibrationData ? SampleSet.Load(request.CalibrationDataPath!, DataSetting.CalibrationData, source) : validation;
        var metric = request.Metric ?? Metrics.DefaultFor(validation);

        // Builds of projects that share this model and these settings plan once: the others wait here, then apply the plan it locked.
        var lockPath = PlanLockFile.PathFor(request);
        var inputs = LockInputs.Of(request, metric, validation.ContentSha256, request.HasSeparateCalibrationData ? calibration.ContentSha256 : null, ToolVersion);
        using var planning = CrossProcessLock.Acquire($"{Path.GetFullPath(lockPath)}|{inputs.Settings.Key}", request.MaxSearchTime + PlanningWaitMargin, lockPath,
            () => log.Info($"{name}: waiting for another build that is compressing this model with the same settings, to reuse its plan"));

        // The lock decides before any expensive work: locked mode fails fast on a missing or stale one.
        var locks = PlanLockFile.Read(lockPath);
        var weightsSource = new TrainedWeightsSource(Path.GetDirectoryName(Path.GetFullPath(lockPath))!);
        var status = WithTrainedWeights(locks.StatusFor(inputs), weightsSource.Directory);
        if (request.LockedMode)
        {
            if (status.State == LockState.Missing) throw LockErrors.Missing(modelFile, lockPath);
            if (!status.IsCurrent) throw LockErrors.Stale(lockPath, status);
        }
        if (status.State == LockState.Stale) log.Info($"{name}: the plan lock is stale ({string.Join("; ", status.Reasons)}): searching again");

        basePlan = VerifiedLosslessPlan(source, basePlan, validation, modelFile);
        var lossless = PassCatalog.Apply(source, basePlan, PassContext.None);
        log.Info($"{name}: measuring the original ({MetricKinds.Name(metric)} on {validation.Count} validation samples)");
        var validationReference = Reference.Measure(source, modelFile, validation, metric);
        if ((request.Techniques & Techniques.Lossy) != 0) BudgetResolution.Check(validationReference, request.Budgets, MetricKinds.Name(metric));
        var searchReference = SearchReference(source, modelFile, calibration, metric);
        var space = CompressionSpace.Find(lossless, request.Techniques, request.DataAwareRounding);
        // One streamed pass over the calibration data gives every layer's input moments, cached by content hash.
        var statistics = new LazyLayerStatistics(() => LayerStatisticsCache.GetOrCollect(lossless, modelFile, calibration,
            space.Layers.Select(l => l.Node).ToList(), request.StatisticsCacheDirectory, line => log.Info($"{name}: {line}")));
        // Bias correction compares compressed layers with the lossless model's.
        var context = new PassContext(calibration) { Reference = lossless, LayerStatistics = statistics, TrainedWeights = weightsSource };
        var evaluator = new CandidateEvaluator(source, modelFile, context, searchReference, validationReference, validation.Sample(0), LatencyOptions.Default);
        var progress = new SearchProgress(log, MetricKinds.Name(metric), time);

        var lockedPlan = status.Plan;
        var (candidates, selection, probes, counts) = lockedPlan is not null
            ? ApplyLockedPlan(lockedPlan, locks.IndexOf(lockedPlan), lockPath, evaluator, request, name)
            : Search(evaluator, basePlan, space, request, searchReference, calibration, progress, name, statistics);
        (Candidate?, IReadOnlyList<DistilledCandidate>)? distillation = null;
        if (lockedPlan is null && DistillationRuns(request, name))
        {
            var withoutDistillation = selection.Chosen;
            (candidates, selection, var sketches, var distillationTimedOut) = Distil(evaluator, basePlan, space, request, source, lossless, searchReference, calibration, metric, candidates, selection, probes, weightsSource, progress, name);
            distillation = (withoutDistillation, sketches);
            counts = counts with { TimedOut = counts.TimedOut || distillationTimedOut };
        }
        // The clock, not the counts, ended the search (in either stage): the warning says so once, as the report does.
        if (counts.TimedOut) WarnSearchTimeExceeded(request);

        var report = ReportBuilder.Build(new ReportFacts(request, metric, validation, validationReference, searchReference,
            new FileInfo(modelFile).Length, candidates, selection, probes, counts, progress.Elapsed,
            lockedPlan is not null ? PlanSource.Lock : PlanSource.Search, lockPath, status.State == LockState.Stale ? status.Reasons : []) { Distillation = distillation });
        WriteReport(request, report, name, selection);

        if (selection.Chosen is { } chosen)
        {
            // The lock first: outputs without their lock would let the next build skip compression and never write it.
            var planLock = lockedPlan ?? NewLock(inputs, chosen, report.OriginalSizeBytes);
            if (lockedPlan is null)
            {
                // The weights before the lock that names them: a lock must never point at a file not yet written.
                if (chosen.Sketch?.Distilled is { } distilled)
                    AtomicFile.WriteAllBytes(Path.Combine(weightsSource.Directory, distilled.File), weightsSource.Trained(distilled.Sha256)!.Bytes);
                PlanLockFile.Update(lockPath, planLock);
            }
            WriteOutputs(request, chosen.Model, validation.Sample(0), planLock);
            log.Info($"{name}: chose {chosen.Label}: {Quantity.FormatSize(chosen.SizeBytes)}, {ReportWriter.Ratio(report.OriginalSizeBytes, chosen.SizeBytes)} smaller, " +
                     $"{MetricKinds.Name(metric)} {ReportWriter.Score(chosen.Validation!.Score)} (original {ReportWriter.Score(validationReference.Score)}), latency {ReportWriter.Times(chosen.Latency.Ratio)}" +
                     (lockedPlan is not null ? $" (plan from {Path.GetFileName(lockPath)})" : $"; plan locked in {Path.GetFileName(lockPath)}"));
        }
        else
        {
            DeleteOutputs(request);
            log.Report(selection.Failure!);
        }
    }

    /// <summary>
    /// A current lock whose plan trains weights needs its weights file beside it, with the content it locked; otherwise
    /// the lock is stale (searching again, or MC5002 in locked mode).
    /// </summary>
    internal static LockStatus WithTrainedWeights(LockStatus status, string directory)
    {
        if (!status.IsCurrent || status.Plan!.Plan.Steps.FirstOrDefault(s => s.Pass == Passes.Distillation.TrainedWeightsPass.PassName) is not { } step) return status;
        var file = step.Parameter(Registry.DistillTechnique.FileParameter) ?? "";
        var sha256 = step.Parameter(Registry.DistillTechnique.Sha256Parameter) ?? "";
        return file == Path.GetFileName(file) && file.Length > 0 && TrainedWeights.Matches(Path.Combine(directory, file), sha256)
            ? status
            : new LockStatus(LockState.Stale, [$"the trained weights file '{file}' that the locked plan names is missing beside the lock, or its content changed"]);
    }

    /// <summary>
    /// Whether this build distils: it may (<see cref="CompressionRequest.CanDistill"/>, lossy techniques allowed) and the
    /// distillation package loads. A package that does not load (libtorch on an unsupported system) is a warning: the
    /// post-training plan stands.
    /// </summary>
    private bool DistillationRuns(CompressionRequest request, string name)
    {
        if (!request.CanDistill || _distiller is null || (request.Techniques & Techniques.Lossy) == 0) return false;
        try
        {
            _ = Distiller;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.Report(Diagnostic.Warning(DiagnosticCode.DistillationUnavailable, request.ModelPath,
                $"Distillation could not start, so the plan is the post-training one: {e.Message}"));
            return false;
        }
        log.Info($"{name}: distillation is on: trying smaller plans fine-tuned against the original on {Path.GetFileName(request.EffectiveTrainingDataPath)}");
        return true;
    }

    /// <summary>
    /// Distils sketches more aggressive than the post-training winner, then chooses again among every candidate; the
    /// log shows the best plan with and without distillation side by side.
    /// </summary>
    private (IReadOnlyList<Candidate>, CandidateSelection, IReadOnlyList<DistilledCandidate>, bool TimedOut) Distil(CandidateEvaluator evaluator, Plan basePlan, CompressionSpace space, CompressionRequest request,
        Onnx.ModelProto source, Onnx.ModelProto lossless, Reference searchReference, SampleSet calibration, MetricKind metric, IReadOnlyList<Candidate> candidates, CandidateSelection selection,
        IReadOnlyList<SettingProbe> probes, TrainedWeightsSource weightsSource, SearchProgress progress, string name)
    {
        var path = request.EffectiveTrainingDataPath!;
        var training = string.Equals(Path.GetFullPath(path), Path.GetFullPath(calibration.File), StringComparison.Ordinal)
            ? calibration
            : SampleSet.Load(path, DataSetting.TrainingData, source);
        progress.Stage($"running the original over {training.Count} training samples of {Path.GetFileName(training.File)} once (the teacher's outputs)");
        var data = DistillationData.Prepare(source, request.ModelPath, training, searchReference.Samples, metric, DistillationOptions.For(training.Count));
        using var timeLeft = new CancellationTokenSource(request.MaxSearchTime > progress.Elapsed ? request.MaxSearchTime - progress.Elapsed : TimeSpan.Zero);
        // The winner's folded factors too: without them its factored layers would run as two (slower). The palettes as trained: see RefitPalettes.
        var knobs = QuantizationKnobs.Default with { FoldFactors = selection.Chosen?.Plan.Steps.Any(s => s.Pass == PassCatalog.FoldFactors) == true, RefitPalettes = false };
        var search = new DistillationSearch(evaluator, basePlan, space, request.Budgets, knobs, Distiller!, data, weightsSource, name, progress);
        var multiplyAdds = Statistics.ModelStatistics.Of(lossless, calibration.Sample(0)).Flops;
        var distilled = search.Run(probes, selection.Chosen, DistillationSearch.DistillationsFor(multiplyAdds, data.Training.Count, data.Options.Epochs), timeLeft.Token);
        if (distilled.Count == 0) return (candidates, selection, distilled, search.TimedOut);
        // Each sketch judged on the validation data before and after training: what distillation bought, for the report.
        distilled = distilled.Select(d => d with { Untrained = evaluator.Judge(d.Untrained), Distilled = evaluator.Judge(d.Distilled) }).ToList();
        // Distilled first: a sketch whose training changed nothing is the same model, and it is kept as the distilled one.
        var all = candidates.Concat(distilled.SelectMany(d => new[] { d.Distilled, d.Untrained })).DistinctBy(c => c.Hash).ToList();
        // Every student is judged on the validation data whenever the search split cannot tell its drop from the budget:
        // within one standard error of its score there (digits-mlp's 256 samples: a point is 2.6 of them, the error 1.3).
        var students = distilled.Select(d => d.Distilled.Hash).ToHashSet(StringComparer.Ordinal);
        var withDistillation = CandidateSelection.Select(all, request.Budgets, evaluator.Judge, request.ModelPath,
            searchMargin: c => students.Contains(c.Hash) ? searchReference.StandardErrorOf(c.Search.Score) : 0);
        foreach (var d in distilled)
            log.Info($"{name}: {d.Distilled.Label}: {Quantity.FormatSize(d.Distilled.SizeBytes)}, {ReportWriter.Score(d.Untrained.Validation!.Score)} untrained → " +
                     $"{ReportWriter.Score(d.Distilled.Validation!.Score)} distilled on the validation data ({d.Epochs.Count} epochs)");
        log.Info($"{name}: best without distillation: {Describe(selection.Chosen)}; with distillation: {Describe(withDistillation.Chosen)}");
        return (all, withDistillation.Chosen is not null ? withDistillation : selection, distilled, search.TimedOut);
    }

    private static string Describe(Candidate? candidate) => candidate is null
        ? "none within the budgets"
        : $"{candidate.Label}, {Quantity.FormatSize(candidate.SizeBytes)}, {ReportWriter.Score(candidate.Validation!.Score)} on the validation data";

    /// <summary>How often the search runs again, each time with a tighter budget on the search split.</summary>
    public const int MaxSearchRounds = 3;

    /// <summary>
    /// Searches, then judges the winners on the validation data. When the winners held the budget on the
    /// search split but not on the validation data (all of them, or the ones much smaller than the chosen), the
    /// split was optimistic: the search runs again with its accuracy budget tightened by the largest gap seen,
    /// so that it settles on safer candidates.
    /// </summary>
    private (IReadOnlyList<Candidate>, CandidateSelection, IReadOnlyList<SettingProbe>, SearchCounts) Search(CandidateEvaluator evaluator, Plan basePlan,
        CompressionSpace space, CompressionRequest request, Reference searchReference, SampleSet calibration, SearchProgress progress, string name, LazyLayerStatistics statistics)
    {
        log.Info($"{name}: searching ({space.Layers.Count} compressible layers, candidates ranked on {searchReference.Samples.Count} samples of {Path.GetFileName(calibration.File)})");
        var lossless = evaluator.Apply(basePlan);
        // Collected (with their own progress lines) before the prediction step, whose lines and time then count options only.
        if (space.Layers.Count > 0) _ = statistics.Value;
        var options = space.Layers.Sum(l => l.Settings.Count);
        LayerErrors errors;
        TimeSpan took;
        using (var step = progress.BeginStep($"predicting the output error of {options} options of {space.Layers.Count} layers", options, "options"))
            (errors, took) = (LayerErrors.Predict(lossless, space, statistics, QuantizationKnobs.Default, step.Advance), step.Elapsed);
        log.Info($"{name}: predicted the output error of {errors.Count} options of {space.Layers.Count} layers from their input statistics, {ReportWriter.Duration(took)}");
        var candidates = new List<Candidate>();
        IReadOnlyList<SettingProbe> probes = [];
        var searchDrop = request.Budgets.MaxAccuracyDrop;
        CandidateSelection? best = null;
        var measuredAlone = 0;
        // What a run of the model costs (counted, not timed) sets how much the search measures.
        var multiplyAdds = Statistics.ModelStatistics.Of(lossless, calibration.Sample(0)).Flops;
        var defaults = CorrectionKnobs(multiplyAdds, space, calibration, name);
        var modelLimits = SearchLimits.Default.ForModel(multiplyAdds, searchReference.Samples.Count);
        if (modelLimits != SearchLimits.Default)
            log.Info($"{name}: a run over the search split costs {((double)multiplyAdds * searchReference.Samples.Count).ToString("G3", System.Globalization.CultureInfo.InvariantCulture)} multiply-adds: measuring at most " +
                     $"{modelLimits.MaxCalibrationProbes} options and {modelLimits.MaxPruningProbes} channel shares alone");
        for (var round = 1; ; round++)
        {
            var remaining = request.MaxSearchTime - progress.Elapsed;
            var limits = modelLimits with { MaxSearchTime = remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero };
            var planner = new CompressionPlanner(evaluator, basePlan, space, request.Budgets with { MaxAccuracyDrop = searchDrop },
                limits, progress, errors, candidates, probes.Where(p => !p.Predicted), defaults);
            var result = planner.Run();
            candidates.AddRange(result.Candidates.Where(c => candidates.All(known => known.Hash != c.Hash)));
            probes = result.Probes;
            measuredAlone = result.OptionsMeasured;
            var selection = CandidateSelection.Select(candidates, request.Budgets, evaluator.Judge, request.ModelPath, searchDrop);
            // A tighter round only adds candidates: the choice of an earlier round stands unless this one's is smaller.
            // This round's own selection decides whether to search again, so that a gap already tightened for is not counted twice.
            best = Better(best, selection);
            var missed = MissedSmallerCandidates(selection, request.Budgets);
            var gap = missed.Select(c => c.Validation!.Drop - c.Search.Drop).DefaultIfEmpty(0).Max();
            var tighter = searchDrop - Math.Max(gap, 0.001);
            if (missed.Count == 0 || round == MaxSearchRounds || tighter <= 0 || result.TimedOut)
                return (candidates, best, probes, new SearchCounts(errors.Count, measuredAlone, candidates.Count, result.TimedOut));
            progress.Stage((selection.Chosen is null ? "the winners on the search split" : $"candidates much smaller than {selection.Chosen.Label}") +
                           $" lost up to {ReportWriter.Points(gap)} more on the validation data: searching again, allowing a drop of {ReportWriter.Points(tighter)} on the search split");
            searchDrop = tighter;
        }
    }

    /// <summary>
    /// Of an earlier round's selection and a later one's, the one that chose the smaller model (the later on a tie): a
    /// round with a tighter search budget no longer admits the earlier winner, which already held on the validation data.
    /// </summary>
    internal static CandidateSelection Better(CandidateSelection? earlier, CandidateSelection later) =>
        earlier?.Chosen is { } kept && (later.Chosen is null || kept.SizeBytes < later.Chosen.SizeBytes)
            ? earlier with { Judged = [.. earlier.Judged, .. later.Judged.Where(c => earlier.Judged.All(e => e.Hash != c.Hash))] }
            : later;

    private void WarnSearchTimeExceeded(CompressionRequest request) =>
        log.Report(Diagnostic.Warning(DiagnosticCode.SearchTimeExceeded, request.ModelPath,
            $"The search reached ModelCompressionMaxSearchTime ({Quantity.FormatDuration(request.MaxSearchTime)}) before its work was done, so the plan now depends on this machine's speed. " +
            "Raise ModelCompressionMaxSearchTime, or commit the plan lock so that other machines apply this plan."));

    /// <summary>
    /// The knobs the search starts from: bias correction from the layer statistics when measuring it would cost more than
    /// <see cref="SearchLimits.MaxEmpiricalCorrectionWork"/> (counted, so every machine chooses the same).
    /// </summary>
    private QuantizationKnobs CorrectionKnobs(long multiplyAdds, CompressionSpace space, SampleSet calibration, string name)
    {
        var samples = Math.Min(Passes.BiasCorrection.BiasCorrectionOptions.Default.MaxSamples, calibration.Count);
        if (!SearchLimits.Default.CorrectsAnalytically(space.Layers.Count, multiplyAdds, samples)) return QuantizationKnobs.Default;
        log.Info($"{name}: biases are corrected from the layer statistics' input means: measuring them would run {space.Layers.Count} layers' parts of the model " +
                 $"({multiplyAdds.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} multiply-adds a sample) over {samples} samples per candidate");
        return QuantizationKnobs.Default with { AnalyticCorrection = true };
    }

    /// <summary>A chosen candidate this much larger than one that failed only on the validation data is worth another round.</summary>
    public const double SearchAgainSizeRatio = 1.5;

    /// <summary>
    /// The judged candidates that held on the search split but not on the validation data, when nothing was chosen,
    /// or when they are much smaller than the chosen one (a safer family won only because the riskier one overfit the split).
    /// </summary>
    private static IReadOnlyList<Candidate> MissedSmallerCandidates(CandidateSelection selection, Budgets budgets)
    {
        var missed = selection.Judged.Where(c => !budgets.AllowsDrop(c.Validation!.Drop));
        return selection.Chosen is { } chosen
            ? missed.Where(c => c.SizeBytes * SearchAgainSizeRatio < chosen.SizeBytes).ToList()
            : missed.ToList();
    }

    /// <summary>
    /// A current lock: its plan is applied without a search and measured again on the validation data.
    /// Breaking a budget now (a new ONNX Runtime, other CPU kernels) is MC5003: the budget regressed.
    /// A plan that does not apply is MC5004; in locked mode, a model other than the one locked on this platform is MC5005.
    /// </summary>
    private (IReadOnlyList<Candidate>, CandidateSelection, IReadOnlyList<SettingProbe>, SearchCounts) ApplyLockedPlan(
        PlanLock locked, int index, string lockPath, CandidateEvaluator evaluator, CompressionRequest request, string name)
    {
        log.Info($"{name}: applying the locked plan ({locked.Plan}) from {Path.GetFileName(lockPath)} and measuring it again");
        Candidate measured;
        try
        {
            measured = evaluator.Measure(locked.Result.Candidate, locked.Plan);
        }
        catch (PlanStepException e)
        {
            throw PlanLockFile.Invalid(lockPath, $"'plans[{index}].plan[{e.StepIndex}].{e.Field}' {e.Problem}", e);
        }
        if (measured.Hash != locked.CompressedModelSha256)
        {
            if (locked.MadeElsewhere)
                log.Info($"{name}: the locked model was made on {locked.Platform}; {PlanLock.CurrentPlatform}'s ONNX Runtime rounds the statistics the passes " +
                         $"compute with otherwise, so the same plan gives other bytes here (SHA-256 {measured.Hash}): it is measured against the budgets as it is");
            else if (request.LockedMode) throw LockErrors.DifferentModel(request.ModelPath, lockPath, locked, index, measured.Hash);
            else log.Info($"{name}: the locked plan produced a model that differs from the one recorded in the lock (ONNX Runtime {locked.OnnxRuntimeVersion} then, {PlanLock.CurrentOnnxRuntimeVersion} now); it is measured as it is");
        }
        var budgets = request.Budgets;
        var candidate = evaluator.Judge(evaluator.ConfirmLatency(measured, budgets));
        var now = new LockedPlanMeasurement(candidate.Validation!.OriginalScore, candidate.Validation.Score, candidate.SizeBytes,
            budgets.AllowsLatency(candidate.Latency), candidate.Latency.Ratio, candidate.Latency.Candidate);
        var regression = LockErrors.Regression(request.ModelPath, lockPath, locked, now, budgets);
        var selection = regression is null
            ? new CandidateSelection(candidate, null, null, [candidate])
            : new CandidateSelection(null, candidate, regression, [candidate]);
        return ([candidate], selection, [], SearchCounts.None);
    }

    private static PlanLock NewLock(LockInputs inputs, Candidate chosen, long originalSize) =>
        new(inputs, PlanLock.CurrentOnnxRuntimeVersion, chosen.Plan,
            new LockedResult(chosen.Label, chosen.Search.Score, chosen.Validation!.Score, chosen.Validation.OriginalScore, chosen.SizeBytes, originalSize),
            chosen.Hash, PlanLock.CurrentPlatform);

    /// <summary>Writes only the sidecar of the model as it is (no compression), its shapes fixed by the first validation sample if any.</summary>
    public void WriteSignatureOnly(CompressionRequest request)
    {
        var model = OnnxModelFile.Load(request.ModelPath);
        var sample = request.ValidationDataPath is null ? null : SampleSet.Load(request.ValidationDataPath, DataSetting.ValidationData, model).Sample(0);
        WriteSidecar(request, Sidecar(request, model, sample));
    }

    /// <summary>
    /// The original measured on the search split: up to <see cref="SearchSamples"/> calibration samples
    /// spread over the file. When the calibration data has no labels the search ranks by agreement.
    /// </summary>
    private static Reference SearchReference(ModelProto source, string modelFile, SampleSet calibration, MetricKind metric)
    {
        var split = calibration.Spread(Math.Min(SearchSamples, calibration.Count));
        var searchMetric = metric == MetricKind.Accuracy && !split.HasLabels ? MetricKind.Agreement : metric;
        return Reference.Measure(source, modelFile, split, searchMetric);
    }

    // Lossless passes are conformance-tested; this checks them once more on the user's own data.
    private Plan VerifiedLosslessPlan(ModelProto source, Plan basePlan, SampleSet validation, string modelFile)
    {
        if (basePlan.Steps.IsEmpty) return basePlan;
        var mismatch = RewriteVerification.FirstMismatch(source, modelFile, PassCatalog.Apply(source, basePlan, PassContext.None), validation);
        if (mismatch is null) return basePlan;
        log.Report(Diagnostic.Warning(DiagnosticCode.LosslessRewriteDiscarded, modelFile,
            $"The lossless graph rewrites changed the model's outputs ({mismatch}), so they were discarded and the model is compressed as it is. This is a bug: please report it with the model."));
        return Plan.Empty;
    }

    /// <summary>
    /// The model, its sidecar and, when a locked plan made it, the stamp that tells the build which plan that was.
    /// The sidecar is resolved first: it runs the model, and a model ONNX Runtime rejects must leave no output behind.
    /// </summary>
    private static void WriteOutputs(CompressionRequest request, ModelProto model, IReadOnlyDictionary<string, NdArray>? sample, PlanLock? lockedPlan)
    {
        var sidecar = Sidecar(request, model, sample);
        OnnxModelFile.Save(model, request.OutputPath);
        WriteSidecar(request, sidecar);
        if (request.LockStampPath is not null && lockedPlan is not null)
            AtomicFile.WriteAllText(request.LockStampPath, LockStamp.For(lockedPlan));
    }

    private static void DeleteOutputs(CompressionRequest request)
    {
        foreach (var path in new[] { request.OutputPath, request.SignaturePath, request.LockStampPath })
            if (path is not null && File.Exists(path)) File.Delete(path);
    }

    private static void WriteSidecar(CompressionRequest request, string? sidecar)
    {
        if (sidecar is not null) AtomicFile.WriteAllText(request.SignaturePath!, sidecar);
    }

    // The signature sidecar's text; null when the request asks for none.
    private static string? Sidecar(CompressionRequest request, ModelProto model, IReadOnlyDictionary<string, NdArray>? sample)
    {
        if (request.SignaturePath is null) return null;
        var (inputs, outputs) = SignatureResolver.Resolve(model, sample, request.ModelPath);
        return SignatureSidecar.Write(new SidecarContent(request.ClassName, request.Namespace, request.ModelRelativePath, inputs, outputs));
    }

    private void WriteReport(CompressionRequest request, CompressionReport report, string name, CandidateSelection selection)
    {
        foreach (var line in ReportWriter.LogTable(report)) log.Info(line);
        if (request.ReportDirectory is null) return;
        var markdown = ReportWriter.Write(report, request.ReportDirectory, name);
        if (selection.Chosen is null && selection.BestFailing is { } best)
            OnnxModelFile.Save(best.Model, Path.Combine(request.ReportDirectory, $"{name}.best-candidate.onnx"));
        log.Info($"{name}: report {markdown}");
    }
}
