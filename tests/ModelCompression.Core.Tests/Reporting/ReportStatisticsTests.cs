using ModelCompression.Core.Data;
using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tensors;
using ModelCompression.Core.Tests.Planning;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Reporting;

/// <summary>Parameters, FLOPs and the runtime-memory note in the report a real (small) compression writes.</summary>
public class ReportStatisticsTests
{
    private const int Features = 64, Hidden = 64, Classes = 10, Samples = 200;

    // y = Relu(x·A)·B: 64·64 + 64·10 = 4,736 parameters; 2·(64·64 + 64·10) = 9,472 FLOPs per sample.
    private const long Parameters = 4_736, Flops = 9_472;

    private static ModelProto Mlp() => TestModels.Mlp(Features, Hidden, Classes, seed: 3);

    /// <summary>Compresses the MLP (labels: its own predictions) with the given techniques and budgets; returns the report and its Markdown.</summary>
    private static (CompressionReport Report, string Markdown) Compress(Technique techniques, Budgets budgets)
    {
        using var dir = new TempDirectory();
        var model = Mlp();
        OnnxModelFile.Save(model, dir.Combine("model.onnx"));
        var random = new Random(5);
        var x = NdArray.Create<float>([Samples, Features], Enumerable.Range(0, Samples * Features).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray());
        using (var runner = new ModelRunner(model, "model"))
        {
            var logits = runner.Run(new Dictionary<string, NdArray> { ["x"] = x })["y"].ToFloats();
            var labels = Enumerable.Range(0, Samples).Select(s => (long)Enumerable.Range(0, Classes).MaxBy(c => logits[s * Classes + c])).ToArray();
            NpzArchive.Write(dir.Combine("data.npz"), [new("x", x), new("labels", NdArray.Create<long>([Samples], labels))]);
        }
        var request = new CompressionRequest
        {
            ModelPath = dir.Combine("model.onnx"),
            OutputPath = dir.Combine("out", "model.onnx"),
            ValidationDataPath = dir.Combine("data.npz"),
            ReportDirectory = dir.Combine("report"),
            Budgets = budgets,
            Techniques = techniques,
        };
        new Compressor(new RecordingLog()).Run(request);
        return (ReportWriter.FromJson(File.ReadAllText(dir.Combine("report", "model.report.json"))), File.ReadAllText(dir.Combine("report", "model.report.md")));
    }

    [Fact]
    public void A_palettized_choice_is_counted_and_its_report_says_runtime_memory_does_not_shrink()
    {
        // Only palettes are smaller than float, and MaxSize (about half the float file) needs one; latency is not judged.
        var (report, markdown) = Compress(Technique.Fusion | Technique.Palettize, new Budgets(0.05, 10_000, TimeSpan.FromSeconds(1)));

        var chosen = report.Chosen!;
        Assert.Contains(PassCatalog.Palettize, chosen.Plan);
        Assert.True(chosen.ExpandedAtLoad);
        Assert.Equal((Parameters, Flops), (report.OriginalParameterCount, report.OriginalFlops));
        // A palette stores every weight (as a code), so the logical count is the original's.
        Assert.Equal((Parameters, Flops), (chosen.ParameterCount, chosen.Flops));
        Assert.Equal(chosen, report.Candidates.Single(c => c.Chosen));
        Assert.Contains("**Runtime memory:**", markdown);
        Assert.Contains("(the model's 4,736 parameters take 18.5 KB as float32)", markdown);
        Assert.Contains(ReportWriter.ExpandedAtLoadFootnote, markdown);
        Assert.All(report.Candidates, c => Assert.Equal(c.Plan.Contains(PassCatalog.Palettize) || c.Plan.Contains(PassCatalog.PruneWeights), c.ExpandedAtLoad));
    }

    [Fact]
    public void An_int8_choice_counts_the_shown_candidates_and_has_no_runtime_memory_note()
    {
        var (report, markdown) = Compress(Technique.Fusion | Technique.Int8, new Budgets(0.05, null, TimeSpan.FromSeconds(1)));

        var chosen = report.Chosen!;
        Assert.Contains(PassCatalog.Int8Weights, chosen.Plan);
        Assert.False(chosen.ExpandedAtLoad);
        Assert.Equal((Parameters, Flops), (chosen.ParameterCount, chosen.Flops));
        Assert.All(ReportWriter.LogSelection(report), c => Assert.Equal((Parameters, Flops), (c.ParameterCount!.Value, c.Flops!.Value)));
        Assert.DoesNotContain("Runtime memory", markdown);
        Assert.DoesNotContain("†", markdown);
        Assert.Contains("| parameters | FLOPs |", markdown);
        Assert.Contains("4,736 parameters, 9.5k FLOPs per batch-1 run", markdown);
    }
}
