using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Passes;
using ModelCompression.Core.Passes.Lossless;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tests.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.Signatures;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Planning;

public class CompressorTests
{
    private const int Hidden = 64, Classes = 10, Samples = 300;

    /// <summary>
    /// y = Relu(x·A)·B. Hidden unit 0 is always 0 (A's column 0 is zero), and B's row 0 holds a
    /// huge weight in every column: harmless in float, but int8 per-column scales then round every
    /// other weight of B to 0. A quantizes fine. So int8 everywhere fails, int8 on A alone passes.
    /// </summary>
    private static ModelProto SensitiveModel()
    {
        var random = new Random(7);
        var a = new float[Hidden * Hidden];
        for (var i = 0; i < a.Length; i++) a[i] = i % Hidden == 0 ? 0 : (float)(random.NextDouble() - 0.5);
        var b = new float[Hidden * Classes];
        for (var i = 0; i < b.Length; i++) b[i] = i < Classes ? 1000f : (float)(random.NextDouble() - 0.5);
        return new OnnxBuilder(13)
            .Input("x", DataType.Float, "N", Hidden)
            .Initializer("A", a, Hidden, Hidden)
            .Initializer("B", b, Hidden, Classes)
            .Node("MatMul", ["x", "A"], ["h"], "layer_a")
            .Node("Relu", ["h"], ["r"], "relu")
            .Node("MatMul", ["r", "B"], ["y"], "layer_b")
            .Output("y", DataType.Float, "N", Classes)
            .Build();
    }

    /// <summary>Random inputs labelled with the original model's own predictions (accuracy 1).</summary>
    private static string WriteData(TempDirectory dir, ModelProto model)
    {
        var random = new Random(11);
        var x = NdArray.Create<float>([Samples, Hidden], Enumerable.Range(0, Samples * Hidden).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());
        using var runner = new ModelRunner(model, "model");
        var logits = runner.Run(new Dictionary<string, NdArray> { ["x"] = x })["y"].ToFloats();
        var labels = Enumerable.Range(0, Samples).Select(s => (long)Enumerable.Range(0, Classes).MaxBy(c => logits[s * Classes + c])).ToArray();
        var path = dir.Combine("data.npz");
        NpzArchive.Write(path, [new("x", x), new("labels", NdArray.Create<long>([Samples], labels))]);
        return path;
    }

    private static (CompressionRequest Request, TempDirectory Dir) Setup(Func<CompressionRequest, CompressionRequest>? configure = null)
    {
        var dir = new TempDirectory();
        var model = SensitiveModel();
        OnnxModelFile.Save(model, dir.Combine("model.onnx"));
        var request = new CompressionRequest
        {
            ModelPath = dir.Combine("model.onnx"),
            OutputPath = dir.Combine("out", "model.onnx"),
            ValidationDataPath = WriteData(dir, model),
            SignaturePath = dir.Combine("out", "Model.mcsig"),
            ClassName = "Model",
            Namespace = "App",
            ModelRelativePath = "model.onnx",
            ReportDirectory = dir.Combine("report"),
            Budgets = new Budgets(0.02, null, null),
            // int8 alone keeps these tests about per-layer fallback; the full technique set has its own test.
            Techniques = Technique.Fusion | Technique.Int8,
        };
        return (configure?.Invoke(request) ?? request, dir);
    }

    /// <summary>The SHA-256 of the model <paramref name="plan"/> makes of the request's model, as the compressor applies it.</summary>
    private static string HashOfModel(CompressionRequest request, Plan plan)
    {
        var source = OnnxModelFile.Load(request.ModelPath);
        new NodeNaming().Apply(source);
        return OnnxModelFile.HashOf(ValueNameCompaction.Compacted(PassCatalog.Apply(source, plan, PassContext.None)));
    }

    private static CompressionReport ReadReport(TempDirectory dir) =>
        ReportWriter.FromJson(File.ReadAllText(dir.Combine("report", "model.report.json")));

    [Fact]
    public void Keeps_int8_only_on_the_layers_the_budget_allows()
    {
        var (request, dir) = Setup();
        using var _ = dir;
        var log = new RecordingLog();

        new Compressor(log).Run(request);

        Assert.Empty(log.Diagnostics);
        var report = ReadReport(dir);
        Assert.Equal(1.0, report.OriginalScore);
        var int8Everywhere = report.Candidates.Single(c => c.Label == "int8 ×2");
        Assert.True(int8Everywhere.Drop > 0.02, $"int8 everywhere should break the budget, dropped {int8Everywhere.Drop}");
        var chosen = report.Chosen!;
        Assert.Equal("int8 ×1, fp32 ×1", chosen.Label);
        Assert.Contains("nodes=layer_a", chosen.Plan);
        Assert.True(chosen.ValidationDrop <= 0.02);
        Assert.True(chosen.SizeBytes < report.OriginalSizeBytes * 0.5);

        // The written model is the chosen one, and it scores what the report says.
        var written = OnnxModelFile.Load(request.OutputPath);
        Assert.Equal(chosen.SizeBytes, new FileInfo(request.OutputPath).Length);
        var validation = SampleSet.Load(request.ValidationDataPath!, DataSetting.ValidationData, written);
        Assert.Equal(chosen.ValidationScore, Reference.Measure(written, "written", validation, MetricKind.Accuracy).Score);

        var sidecar = SignatureSidecar.Read(File.ReadAllText(request.SignaturePath!));
        Assert.Equal([1L, Hidden], sidecar.Inputs.Single().Shape);
        Assert.Equal([1L, Classes], sidecar.Outputs.Single().Shape);
        Assert.Equal(["N", $"{Hidden}"], sidecar.Inputs.Single().DeclaredShape); // the batch axis stays free for the wrapper
        Assert.Equal(["N", $"{Classes}"], sidecar.Outputs.Single().DeclaredShape);
        Assert.True(File.Exists(dir.Combine("report", "model.report.md")));
    }

    [Fact]
    public void With_every_technique_the_planner_finds_a_smaller_model_and_reports_each_layers_sensitivity()
    {
        var (int8Request, int8Dir) = Setup();
        using var _ = int8Dir;
        new Compressor(new RecordingLog()).Run(int8Request);
        var int8Only = ReadReport(int8Dir).Chosen!;
        var (request, dir) = Setup(r => r with { Techniques = Technique.All });
        using var __ = dir;

        new Compressor(new RecordingLog()).Run(request);

        var report = ReadReport(dir);
        var chosen = report.Chosen!;
        Assert.True(chosen.SizeBytes < int8Only.SizeBytes, $"{chosen.Label} ({chosen.SizeBytes} B) is not smaller than {int8Only.Label} ({int8Only.SizeBytes} B)");
        Assert.True(chosen.ValidationDrop <= 0.02);
        // Each layer's row is its smallest setting alone; at int8 the outlier column makes layer_b the sensitive one.
        Assert.All(new[] { "layer_a", "layer_b" }, node => Assert.Single(report.Sensitivity, s => s.Node == node && s.OpType == "MatMul"));
        var int8Sensitivity = ReadReport(int8Dir).Sensitivity;
        var a = int8Sensitivity.Single(s => s.Node == "layer_a");
        var b = int8Sensitivity.Single(s => s.Node == "layer_b");
        Assert.True(b.DropAlone > a.DropAlone + 0.02, $"layer_b ({b.DropAlone} at {b.Tried}) should be far more sensitive than layer_a ({a.DropAlone} at {a.Tried})");
        Assert.NotEqual("int8", report.Sensitivity.Single(s => s.Node == "layer_b").Final);
        Assert.Equal(chosen.ValidationScore, Reference.Measure(OnnxModelFile.Load(request.OutputPath), "written",
            SampleSet.Load(request.ValidationDataPath!, DataSetting.ValidationData, OnnxModelFile.Load(request.OutputPath)), MetricKind.Accuracy).Score);
    }

    [Fact]
    public void A_size_budget_no_candidate_meets_is_MC4002_and_still_writes_the_report_and_best_candidate()
    {
        var (request, dir) = Setup(r => r with { Budgets = new Budgets(0.02, 2000, null) });
        using var _ = dir;
        var log = new RecordingLog();

        new Compressor(log).Run(request);

        var error = Assert.Single(log.Diagnostics);
        Assert.Equal(DiagnosticCode.SizeBudgetNotMet, error.Code);
        Assert.Contains("MaxSize allows 2 KB (2000 bytes)", error.Message);
        Assert.Contains("int8 ×1, fp32 ×1", error.Message);
        Assert.False(File.Exists(request.OutputPath));
        var report = ReadReport(dir);
        Assert.Null(report.Chosen);
        Assert.Equal("int8 ×1, fp32 ×1", report.BestFailing!.Label);
        Assert.Equal(error.Message, report.Failure);
        Assert.True(File.Exists(dir.Combine("report", "model.best-candidate.onnx")));
    }

    [Fact]
    public void When_only_inaccurate_candidates_fit_the_size_budget_the_error_is_MC4001()
    {
        // int8 everywhere is the only candidate this small, and it breaks the accuracy budget.
        var (request, dir) = Setup();
        using var _ = dir;
        new Compressor(new RecordingLog()).Run(request);
        var int8Size = ReadReport(dir).Candidates.Single(c => c.Label == "int8 ×2").SizeBytes;
        var log = new RecordingLog();

        new Compressor(log).Run(request with { Budgets = new Budgets(0.02, int8Size, null) });

        var error = Assert.Single(log.Diagnostics);
        Assert.Equal(DiagnosticCode.AccuracyBudgetNotMet, error.Code);
        Assert.Contains("where +2.00 pt is allowed", error.Message);
    }

    [Fact]
    public void A_latency_budget_no_candidate_meets_is_MC4003()
    {
        var (request, dir) = Setup(r => r with { Budgets = new Budgets(0.02, null, TimeSpan.FromTicks(1)) });
        using var _ = dir;
        var log = new RecordingLog();

        new Compressor(log).Run(request);

        var error = Assert.Single(log.Diagnostics);
        Assert.Equal(DiagnosticCode.LatencyBudgetNotMet, error.Code);
        Assert.Contains("MaxLatency allows 0.1 µs", error.Message);
        Assert.False(File.Exists(request.OutputPath));
    }

    [Fact]
    public void A_used_up_search_time_keeps_the_best_candidate_measured_so_far_and_warns_that_the_plan_depends_on_the_machine()
    {
        var (request, dir) = Setup(r => r with { MaxSearchTime = TimeSpan.Zero });
        using var _ = dir;
        var log = new RecordingLog();

        new Compressor(log).Run(request);

        var warning = Assert.Single(log.Diagnostics);
        Assert.Equal(DiagnosticCode.SearchTimeExceeded, warning.Code);
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
        Assert.Contains("depends on this machine's speed", warning.Message);
        Assert.True(ReadReport(dir).SearchTimedOut);
        Assert.Equal(["lossless"], ReadReport(dir).Candidates.Select(c => c.Label));
        Assert.Contains(log.Lines, l => l.Contains("search time"));
        Assert.True(File.Exists(request.OutputPath));
    }

    [Fact]
    public void A_current_lock_is_applied_without_a_search_and_gives_the_same_bytes()
    {
        var (request, dir) = Setup();
        using var _ = dir;
        new Compressor(new RecordingLog()).Run(request);
        var first = File.ReadAllBytes(request.OutputPath);
        var lockFile = dir.Combine("model.compression.lock.json");
        var lockText = File.ReadAllText(lockFile);
        var log = new RecordingLog();

        new Compressor(log).Run(request with { LockedMode = true });

        Assert.Empty(log.Diagnostics);
        Assert.Equal(first, File.ReadAllBytes(request.OutputPath));
        Assert.Equal(lockText, File.ReadAllText(lockFile)); // a current lock is not rewritten
        var report = ReadReport(dir);
        Assert.Equal(PlanSource.Lock, report.PlanSource);
        Assert.Single(report.Candidates);
        Assert.Equal("int8 ×1, fp32 ×1", report.Chosen!.Label);
    }

    [Fact]
    public void Locked_mode_without_a_lock_is_MC5001()
    {
        var (request, dir) = Setup(r => r with { LockedMode = true });
        using var _ = dir;

        var e = Assert.Throws<CompressionException>(() => new Compressor(new RecordingLog()).Run(request));

        Assert.Equal(DiagnosticCode.LockMissing, e.Code);
        Assert.False(File.Exists(request.OutputPath));
    }

    [Fact]
    public void A_stale_lock_is_MC5002_in_locked_mode_and_searched_again_otherwise()
    {
        var (request, dir) = Setup();
        using var _ = dir;
        new Compressor(new RecordingLog()).Run(request);
        // Same arrays but one value changed: the validation data is different content.
        var arrays = new Dictionary<string, NdArray>();
        using (var archive = NpzArchive.Open(request.ValidationDataPath!, DataSetting.ValidationData))
            foreach (var name in new[] { "x", "labels" }) arrays[name] = archive.Read(name);
        arrays["x"].Data[0] ^= 1;
        NpzArchive.Write(request.ValidationDataPath!, arrays);

        var e = Assert.Throws<CompressionException>(() => new Compressor(new RecordingLog()).Run(request with { LockedMode = true }));
        Assert.Equal(DiagnosticCode.LockStale, e.Code);
        Assert.Contains("the validation data changed", e.Message);

        new Compressor(new RecordingLog()).Run(request);
        var report = ReadReport(dir);
        Assert.Equal(PlanSource.Search, report.PlanSource);
        Assert.Contains("the validation data changed", report.StaleLockReasons);
        new Compressor(new RecordingLog()).Run(request with { LockedMode = true }); // the new lock is current
    }

    [Fact]
    public void A_locked_plan_that_no_longer_meets_the_budget_is_MC5003()
    {
        var (request, dir) = Setup();
        using var _ = dir;
        new Compressor(new RecordingLog()).Run(request);
        // Lock int8 on both layers, which breaks the 2-point budget on this data (as if the tool had chosen it).
        var lockFile = dir.Combine("model.compression.lock.json");
        var locked = Assert.Single(PlanLockFile.Read(lockFile).Plans);
        var plan = Plan.Empty.Then(new PassStep(PassCatalog.Lossless)).Then(PassCatalog.Step(PassCatalog.Int8Weights));
        PlanLockFile.Write(lockFile, PlanLockSet.Of([locked with { Plan = plan, CompressedModelSha256 = HashOfModel(request, plan) }]));
        var log = new RecordingLog();

        new Compressor(log).Run(request with { LockedMode = true });

        var error = Assert.Single(log.Diagnostics);
        Assert.Equal(DiagnosticCode.LockedPlanRegressed, error.Code);
        Assert.Contains("where MaxAccuracyDrop allows +2.00 pt", error.Message);
        Assert.False(File.Exists(request.OutputPath));
    }

    [Fact]
    public void Without_validation_data_only_lossless_passes_run_with_warning_MC2101()
    {
        var (request, dir) = Setup(r => r with { ValidationDataPath = null });
        using var _ = dir;
        var log = new RecordingLog();

        new Compressor(log).Run(request);

        var warning = Assert.Single(log.Diagnostics);
        Assert.Equal(DiagnosticCode.NoValidationData, warning.Code);
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
        Assert.DoesNotContain(OnnxModelFile.Load(request.OutputPath).Graph.Initializer, t => t.DataType == (int)DataType.Int8);
        Assert.True(File.Exists(request.SignaturePath));
    }

    [Fact]
    public void Without_the_int8_technique_the_model_stays_float()
    {
        var (request, dir) = Setup(r => r with { Techniques = Technique.Fusion });
        using var _ = dir;

        new Compressor(new RecordingLog()).Run(request);

        Assert.Equal(["lossless"], ReadReport(dir).Candidates.Select(c => c.Label));
    }

    [Fact]
    public void Data_that_does_not_fit_the_model_is_an_error_before_any_output()
    {
        var (request, dir) = Setup();
        using var _ = dir;
        NpzArchive.Write(request.ValidationDataPath!, [new("input", NdArray.Create<float>([2, Hidden], new float[2 * Hidden]))]);

        var e = Assert.Throws<CompressionException>(() => new Compressor(new RecordingLog()).Run(request));

        Assert.Equal(DiagnosticCode.DataNamesMismatch, e.Code);
        Assert.False(File.Exists(request.OutputPath));
    }

    [Fact]
    public void The_layer_statistics_are_collected_before_the_prediction_step_so_its_progress_counts_options_only()
    {
        var (request, dir) = Setup();
        using var _ = dir;
        var time = new ManualTime();
        // Collecting takes a heartbeat's time here: a prediction step already running would print "0/N options" and count it.
        var log = new ClockLog(time, "collecting layer statistics", SearchProgress.DefaultHeartbeat);

        new Compressor(log, time: time).Run(request);

        Assert.Contains(log.Lines, l => l.Contains("collecting layer statistics", StringComparison.Ordinal));
        Assert.DoesNotContain(log.Lines, l => l.Contains("predicting the output error", StringComparison.Ordinal));
        Assert.Contains(log.Lines, l => l.Contains("predicted the output error", StringComparison.Ordinal) && l.EndsWith(", 0:00", StringComparison.Ordinal));
    }

    /// <summary>A log that moves the clock on by <paramref name="by"/> once, when a line containing <paramref name="trigger"/> arrives.</summary>
    private sealed class ClockLog(ManualTime time, string trigger, TimeSpan by) : ICompressionLog
    {
        private bool _moved;

        public List<string> Lines { get; } = [];

        public void Info(string message)
        {
            Lines.Add(message);
            if (_moved || !message.Contains(trigger, StringComparison.Ordinal)) return;
            _moved = true;
            time.Advance(by);
        }

        public void Detail(string message) => Lines.Add(message);

        public void Report(Diagnostic diagnostic) { }
    }
}
