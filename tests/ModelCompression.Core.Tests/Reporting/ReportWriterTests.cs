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

        Assert.Contains("|  | candidate | size | accuracy | latency | parameters | FLOPs | budgets |", markdown);
        Assert.Contains("|  | original | 3.32 MB | 0.9175 | 0.127 ms | 421,642 | 38.2M |  |", markdown);
        Assert.Contains("| ✓ | int4+int8 | 612 KB (5.6×) | 0.9087 (-0.88 pt) | 0.118 ms (0.93×) | 421,642 | 38.2M | within: chosen |", markdown);
        Assert.Contains("|  | int8 | 856.9 KB (4.0×) | 0.9165 (-0.15 pt) | 0.126 ms (0.99×) |  |  | within |", markdown);
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
        Assert.Equal("int4 → int8: 0.62 pt alone", ReportWriter.FallbackReason(new NodeSensitivity("conv1", "Conv", "int4", 0.0062, "int8")));
        Assert.Equal("", ReportWriter.FallbackReason(new NodeSensitivity("fc1", "Gemm", "int4", 0.0004, "int4")));
        Assert.Equal("no int4 kernel", ReportWriter.FallbackReason(new NodeSensitivity("c", "Conv", "int4", 0, "int8") { Reason = "no int4 kernel" }));
    }

    [Fact]
    public void The_build_log_table_shows_a_few_lines_the_chosen_one_marked()
    {
        var lines = ReportWriter.LogTable(ExampleReports.Searched()).ToList();

        Assert.Equal(
        [
            "  technique                            size   accuracy validation   latency  params   FLOPs",
            "  original                          3.32 MB     0.9180     0.9175  0.127 ms  421.6k   38.2M",
            "  fp16                              1.66 MB     0.9180                1.01×",
            "  int8                             856.9 KB     0.9165                0.99×",
            "  int4+int8, 3 fell back           685.5 KB     0.9151                0.96×",
            "✓ int4+int8                          612 KB     0.9125     0.9087     0.93×  421.6k   38.2M",
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
    public void The_json_report_carries_parameters_flops_and_expansion_at_load_and_older_reports_still_read()
    {
        var report = ExampleReports.Searched();
        report = report with { Candidates = [.. report.Candidates.Select(c => c.Label == "int4" ? c with { ExpandedAtLoad = true, ParameterCount = 100, Flops = 200 } : c)] };

        var json = ReportWriter.ToJson(report);
        var read = ReportWriter.FromJson(json);

        Assert.Contains("\"originalParameterCount\": 421642", json);
        Assert.Contains("\"originalFlops\": 38189056", json);
        Assert.Contains("\"flops\": 38189056", json);
        Assert.Contains("\"expandedAtLoad\": true", json);
        Assert.Equal(421_642, read.OriginalParameterCount);
        Assert.Equal(38_189_056, read.OriginalFlops);
        Assert.Equal(report.Candidates, read.Candidates);
        Assert.Equal((100L, 200L, true), read.Candidates.Single(c => c.Label == "int4") is var c4 ? (c4.ParameterCount, c4.Flops, c4.ExpandedAtLoad) : default);

        // A report written before these fields existed reads with them unset.
        var older = System.Text.RegularExpressions.Regex.Replace(json, "\\s*\"(originalFlops|flops|expandedAtLoad)\": [^,\\n]+,?", "");
        Assert.DoesNotContain("flops", older, StringComparison.OrdinalIgnoreCase);
        var old = ReportWriter.FromJson(older);
        Assert.Null(old.OriginalFlops);
        Assert.All(old.Candidates, c => Assert.Null(c.Flops));
        Assert.All(old.Candidates, c => Assert.False(c.ExpandedAtLoad));
        Assert.Equal(421_642, old.Chosen!.ParameterCount);
    }

    [Fact]
    public void The_runtime_memory_note_appears_only_when_the_chosen_plan_expands_its_weights_at_load()
    {
        var report = ExampleReports.Searched();
        var palettized = report with
        {
            Chosen = report.Chosen! with { ExpandedAtLoad = true },
            Candidates = [.. report.Candidates.Select(c => c.Chosen ? c with { ExpandedAtLoad = true } : c)],
        };
        var otherPalettized = report with { Candidates = [.. report.Candidates.Select(c => c.Label == "int4" ? c with { ExpandedAtLoad = true } : c)] };

        var plain = ReportWriter.ToMarkdown(report);
        var withPalette = ReportWriter.ToMarkdown(palettized);
        var paletteNotChosen = ReportWriter.ToMarkdown(otherPalettized);

        Assert.DoesNotContain("Runtime memory", plain);
        Assert.DoesNotContain("†", plain);
        Assert.Contains("**Runtime memory:** this plan stores weights as palette codes (or masked sparse values), which ONNX Runtime expands to float when it loads the model: " +
                        "the file is 612 KB, but a loaded session holds those weights as float32, so its memory does not shrink with the file " +
                        "(the model's 421,642 parameters take 1.61 MB as float32).", withPalette);
        Assert.Contains("| ✓ | int4+int8 | 612 KB (5.6×) † |", withPalette);
        Assert.Contains(ReportWriter.ExpandedAtLoadFootnote, withPalette);
        // A palettized candidate that was not chosen is marked in the table, but the chosen model's memory is not in question.
        Assert.DoesNotContain("Runtime memory", paletteNotChosen);
        Assert.Contains("| int4 | 459 KB (7.4×) † |", paletteNotChosen);
        Assert.Contains(ReportWriter.ExpandedAtLoadFootnote, paletteNotChosen);
    }

    [Fact]
    public void The_chosen_line_and_the_model_line_give_parameters_and_flops()
    {
        var report = ExampleReports.Searched();
        var smaller = report with { Chosen = report.Chosen! with { ParameterCount = 105_000, Flops = 9_500_000 } };

        var markdown = ReportWriter.ToMarkdown(smaller);

        Assert.Contains("latency 0.93× the original's. Parameters 421,642 → 105,000, FLOPs per batch-1 run 38.2M → 9.5M.", markdown);
        Assert.Contains("latency 0.93× the original's. Parameters 421,642 (unchanged), FLOPs per batch-1 run 38.2M (unchanged).", ReportWriter.ToMarkdown(report));
        Assert.Contains(", 0.127 ms per run, 421,642 parameters, 38.2M FLOPs per batch-1 run", markdown);
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(999, "999")]
    [InlineData(17_226, "17.2k")]
    [InlineData(870_634, "870.6k")]
    [InlineData(999_960, "1.0M")]
    [InlineData(38_189_056, "38.2M")]
    [InlineData(2_500_000_000, "2.5G")]
    public void Counts_read_in_compact_units(long count, string expected) => Assert.Equal(expected, ReportWriter.CompactCount(count));

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
