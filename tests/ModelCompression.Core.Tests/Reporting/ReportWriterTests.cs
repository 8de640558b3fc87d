using ModelCompression.Core.Reporting;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Reporting;

public class ReportWriterTests
{
    [Fact]
    public void The_markdown_report_links_the_chart_and_shows_candidates_budgets_and_sensitivity()
    {
        var markdown = ReportWriter.ToMarkdown(ExampleReports.Searched(), "fashion-cnn.report.svg");

        Assert.Contains("![candidates](fashion-cnn.report.svg)", markdown);
        Snapshot.Match(markdown, "md");
    }

    [Fact]
    public void A_failed_report_names_the_error_and_the_closest_candidate()
    {
        var markdown = ReportWriter.ToMarkdown(ExampleReports.Failed());

        Assert.Contains("**The budgets were not met.** No candidate fits MaxSize", markdown);
        Assert.Contains("Closest candidate: int4 (block 128), 442 KB, accuracy 0.8211 (-9.69 pt).", markdown);
        Assert.DoesNotContain("Chosen", markdown);
        Assert.DoesNotContain("![candidates]", markdown);
        Assert.DoesNotContain("| ✓ |", markdown);
    }

    [Fact]
    public void Without_a_search_split_one_score_column_shows_the_validation_scores()
    {
        var report = ExampleReports.Searched() with { SearchSamples = null, SearchData = null, OriginalSearchScore = null, PlanSource = PlanSource.Lock, StaleLockReasons = [] };

        var markdown = ReportWriter.ToMarkdown(report);

        Assert.Contains("|  | candidate | size | accuracy | latency | parameters | budgets |", markdown);
        Assert.Contains("| ✓ | int4+int8 | 612 KB (5.6×) | 0.9087 (-0.88 pt) | 0.118 ms (0.93×) | 421,642 | within: chosen |", markdown);
        Assert.Contains("- Plan: from `Models/fashion-cnn.compression.lock.json`, applied without a search and measured again in 0:42", markdown);
    }

    [Fact]
    public void Each_broken_budget_is_named()
    {
        var c = new CandidateSummary("x", "p", 1, 0.5, 0.1, true, true, false);

        Assert.Equal("within", ReportWriter.Verdict(c));
        Assert.Equal("within", ReportWriter.Verdict(c with { MeetsLatency = true }));
        Assert.Equal("breaks accuracy", ReportWriter.Verdict(c with { MeetsAccuracy = false }));
        Assert.Equal("breaks size, latency", ReportWriter.Verdict(c with { MeetsSize = false, MeetsLatency = false }));
        Assert.Equal("within: chosen", ReportWriter.Verdict(c with { Chosen = true }));
    }

    [Fact]
    public void A_node_that_fell_back_says_why()
    {
        Assert.Equal("int4 → int8: drop 0.62 pt alone", ReportWriter.FallbackReason(new NodeSensitivity("conv1", "Conv", "int4", 0.0062, "int8")));
        Assert.Equal("", ReportWriter.FallbackReason(new NodeSensitivity("fc1", "Gemm", "int4", 0.0004, "int4")));
        Assert.Equal("no int4 kernel", ReportWriter.FallbackReason(new NodeSensitivity("c", "Conv", "int4", 0, "int8") { Reason = "no int4 kernel" }));
    }

    [Fact]
    public void The_build_log_table_shows_a_few_lines_the_chosen_one_marked()
    {
        var lines = ReportWriter.LogTable(ExampleReports.Searched()).ToList();

        Assert.Equal(
        [
            "  technique                            size   accuracy validation   latency",
            "  original                          3.32 MB     0.9180     0.9175  0.127 ms",
            "  fp16                              1.66 MB     0.9180                1.01×",
            "  int8                             856.9 KB     0.9165                0.99×",
            "  int4+int8, 3 fell back           685.5 KB     0.9151                0.96×",
            "✓ int4+int8                          612 KB     0.9125     0.9087     0.93×",
            "  int4+int8, 1 fell back           493.5 KB     0.9050                0.95×",
            "  int4                               459 KB     0.8612                1.05×",
            "  (and 4 more candidates in the report)",
        ], lines);
    }

    [Fact]
    public void A_short_search_shows_every_candidate_and_no_empty_columns()
    {
        var report = new CompressionReport
        {
            Model = "model.onnx", ToolVersion = "0.1.0", Metric = "accuracy", ValidationData = "v.npz", ValidationSamples = 100,
            Budgets = new BudgetSummary(0.01, null, null), OriginalSizeBytes = 3_484_613, OriginalScore = 0.9104,
            Candidates =
            [
                new("lossless", "lossless", 3_484_100, 0.9104, 0, true, true, false),
                new("int8", "lossless → int8-weights", 877_280, 0.9105, -0.0001, true, true, true),
            ],
        };

        Assert.Equal(
        [
            "  technique                            size   accuracy",
            "  original                          3.32 MB     0.9104",
            "  lossless                          3.32 MB     0.9104",
            "✓ int8                             856.7 KB     0.9105",
        ], ReportWriter.LogTable(report));
    }

    [Fact]
    public void The_json_report_reads_back_with_every_field()
    {
        var report = ExampleReports.Searched() with { PlanSource = PlanSource.Lock };

        var json = ReportWriter.ToJson(report);
        var read = ReportWriter.FromJson(json);

        Assert.Contains("\"planSource\": \"lock\"", json);
        Assert.Contains("\"withinBudgets\": true", json);
        Assert.Equal(json, ReportWriter.ToJson(read));
        Assert.Equal(report.Chosen, read.Chosen);
        Assert.Equal(report.Candidates, read.Candidates);
        Assert.Equal(report.Sensitivity, read.Sensitivity);
    }

    [Fact]
    public void Write_puts_the_json_the_chart_and_the_markdown_side_by_side()
    {
        using var dir = new TempDirectory();

        var markdown = ReportWriter.Write(ExampleReports.Searched(), dir.Path, "fashion-cnn");

        Assert.Equal(dir.Combine("fashion-cnn.report.md"), markdown);
        Assert.Equal(["fashion-cnn.report.json", "fashion-cnn.report.md", "fashion-cnn.report.svg"],
            Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("![candidates](fashion-cnn.report.svg)", File.ReadAllText(markdown));
        Assert.Equal(CandidateChart.ToSvg(ExampleReports.Searched()), File.ReadAllText(dir.Combine("fashion-cnn.report.svg")));
    }
}
