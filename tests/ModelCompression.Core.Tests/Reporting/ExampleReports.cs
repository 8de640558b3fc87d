using ModelCompression.Core.Reporting;

namespace ModelCompression.Core.Tests.Reporting;

/// <summary>Reports shaped like a real search's (the figures are illustrative, not measured).</summary>
internal static class ExampleReports
{
    private static CandidateSummary Candidate(string label, string plan, long size, double score, bool accurate, double? ratio, bool fast = true) =>
        new(label, plan, size, score, 0.9180 - score, accurate, size <= 1 << 20, false)
        {
            LatencyRatio = ratio,
            LatencyMilliseconds = ratio is { } r ? Math.Round(0.127 * r, 4) : null,
            MeetsLatency = ratio is null ? null : fast,
        };

    private static readonly CandidateSummary Chosen =
        new("int4+int8", "lossless → int4-weights(block=32, nodes=conv2;fc1) → int8-weights(nodes=conv1;fc2)", 626_688, 0.9125, 0.9180 - 0.9125, true, true, true)
        {
            ValidationScore = 0.9087,
            ValidationDrop = 0.9175 - 0.9087,
            LatencyMilliseconds = 0.1181,
            LatencyRatio = 0.93,
            MeetsLatency = true,
            ParameterCount = 421_642,
            Flops = 38_189_056,
        };

    /// <summary>A search on fashion-cnn-like figures: 10 candidates, a search split, a size budget, the chosen int4+int8 mix.</summary>
    public static CompressionReport Searched() => new()
    {
        Model = "Models/fashion-cnn.onnx",
        ToolVersion = "0.1.0",
        Metric = "accuracy",
        ValidationData = "Models/fashion-cnn.validation.npz",
        ValidationSamples = 10000,
        Budgets = new BudgetSummary(0.01, 1 << 20, null),
        OriginalSizeBytes = 3_484_613,
        OriginalScore = 0.9175,
        OriginalSearchScore = 0.9180,
        OriginalLatencyMilliseconds = 0.127,
        OriginalParameterCount = 421_642,
        OriginalFlops = 38_189_056,
        SearchData = "Models/fashion-cnn.calibration.npz",
        SearchSamples = 2000,
        SearchSeconds = 42.4,
        LockFile = "Models/fashion-cnn.compression.lock.json",
        StaleLockReasons = ["the validation data changed"],
        Candidates =
        [
            Candidate("lossless", "lossless", 3_483_990, 0.9180, true, 1.00),
            Candidate("fp16", "lossless → fp16-weights", 1_742_300, 0.9180, true, 1.01),
            Candidate("int8", "lossless → int8-weights", 877_420, 0.9165, true, 0.99),
            Candidate("int8 static minmax", "lossless → int8-static(calibration=minmax)", 880_112, 0.9101, true, 0.71),
            Candidate("int8 static entropy", "lossless → int8-static(calibration=entropy)", 880_112, 0.9142, true, 0.72),
            Candidate("int4", "lossless → int4-weights(block=32)", 470_016, 0.8612, false, 1.05, fast: false),
            Candidate("int4+int8, 1 fell back", "lossless → int4-weights(block=32, nodes=conv1;conv2;fc1) → int8-weights(nodes=fc2)", 505_344, 0.9050, false, 0.95),
            Chosen,
            Candidate("int4+int8, 3 fell back", "lossless → int4-weights(block=32, nodes=fc1) → int8-weights(nodes=conv1;conv2;fc2)", 702_000, 0.9151, true, 0.96),
            Candidate("int4 (block 128)", "lossless → int4-weights(block=128)", 452_608, 0.8211, false, 1.04, fast: false),
        ],
        Chosen = Chosen,
        Sensitivity =
        [
            new NodeSensitivity("conv1", "Conv", "int4", 0.0062, "int8"),
            new NodeSensitivity("conv2", "Conv", "int4", 0.0011, "int4"),
            new NodeSensitivity("fc1", "Gemm", "int4", 0.0004, "int4"),
            new NodeSensitivity("fc2", "Gemm", "int4", 0.0140, "int8"),
            new NodeSensitivity("fc_out|logits", "Gemm", "int4", 0.0310, "fp32") { Reason = "int4 → fp32: drop 3.10 pt alone, and 0.40 pt at int8" },
        ],
        Notes = ["Weight-only forms (int4, int8 weights) are expanded to float when ONNX Runtime loads the model: the file shrinks, a loaded session's memory does not."],
    };

    /// <summary>A budget nothing meets: no chosen candidate, the closest one named.</summary>
    public static CompressionReport Failed()
    {
        var searched = Searched();
        var candidates = searched.Candidates.Select(c => c with { Chosen = false, MeetsSize = c.SizeBytes <= 400_000 }).ToList();
        var closest = candidates.Single(c => c.Label == "int4 (block 128)");
        return searched with
        {
            Budgets = new BudgetSummary(0.01, 400_000, null),
            Candidates = candidates,
            Chosen = null,
            BestFailing = closest,
            Failure = "No candidate fits MaxSize: the smallest candidate, int4 (block 128), is 442 KB (452608 bytes) where MaxSize allows 390.6 KB (400000 bytes).",
            StaleLockReasons = [],
            LockFile = null,
        };
    }
}
