using System.Globalization;
using System.Xml.Linq;
using ModelCompression.Core.Reporting;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Reporting;

public class CandidateChartTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    [Fact]
    public void The_chart_is_deterministic()
    {
        var svg = CandidateChart.ToSvg(ExampleReports.Searched());

        Assert.Equal(svg, CandidateChart.ToSvg(ExampleReports.Searched()));
        Snapshot.Match(svg, "svg");
    }

    [Fact]
    public void The_chart_is_self_contained_svg_without_scripts_or_external_assets()
    {
        var svg = CandidateChart.ToSvg(ExampleReports.Searched());
        var document = XDocument.Parse(svg);

        Assert.Equal(Svg + "svg", document.Root!.Name);
        Assert.Empty(document.Descendants(Svg + "script"));
        Assert.DoesNotContain("href", svg);
        Assert.DoesNotContain("url(", svg);
        Assert.DoesNotContain("<image", svg);
        Assert.DoesNotContain(" on", string.Concat(document.Descendants().Attributes().Select(a => " " + a.Name.LocalName)));
    }

    [Fact]
    public void Every_candidate_is_a_point_placed_by_size_and_score_with_the_chosen_one_highlighted()
    {
        var report = ExampleReports.Searched();
        var points = Points(CandidateChart.ToSvg(report));

        // One point per candidate (the tooltip names it), the chosen one larger and green.
        Assert.Equal(report.Candidates.Select(c => c.Label).Order(), points.Keys.Order());
        Assert.Equal("8", points["int4+int8"].Attribute("r")!.Value);
        Assert.Equal("#1a9850", points["int4+int8"].Attribute("fill")!.Value);
        Assert.Equal("white", points["int4"].Attribute("fill")!.Value);     // breaks a budget: hollow
        Assert.Equal("#3b75c4", points["int8"].Attribute("fill")!.Value);   // within budgets: filled

        // Smaller is further left, a higher score further up.
        double X(string label) => double.Parse(points[label].Attribute("cx")!.Value, CultureInfo.InvariantCulture);
        double Y(string label) => double.Parse(points[label].Attribute("cy")!.Value, CultureInfo.InvariantCulture);
        var bySize = report.Candidates.OrderBy(c => c.SizeBytes).Select(c => c.Label).ToList();
        Assert.Equal(bySize, bySize.OrderBy(X).ToList());
        Assert.True(Y("int8") < Y("int4+int8") && Y("int4+int8") < Y("int4"));
    }

    [Fact]
    public void The_budget_lines_are_the_size_limit_and_the_lowest_allowed_score()
    {
        var report = ExampleReports.Searched();

        var svg = CandidateChart.ToSvg(report);
        var withoutSize = CandidateChart.ToSvg(report with { Budgets = report.Budgets with { MaxSizeBytes = null } });

        Assert.Contains(">lowest allowed accuracy 0.9080 (original − 1 pt)</text>", svg);
        Assert.Contains(">MaxSize 1 MB</text>", svg);
        Assert.Equal(3, BudgetLines(svg)); // the two budgets and the legend's sample
        Assert.Equal(2, BudgetLines(withoutSize));
        Assert.DoesNotContain("MaxSize", withoutSize);
    }

    [Fact]
    public void Sizes_spanning_more_than_ten_times_get_a_log_axis()
    {
        var report = ExampleReports.Searched();
        var tiny = report.Candidates[^1] with { Label = "pruned", SizeBytes = 20_000 };

        Assert.Contains(">size (KB)</text>", CandidateChart.ToSvg(report));
        Assert.Contains(">size (KB, log scale)</text>", CandidateChart.ToSvg(report with { Candidates = [.. report.Candidates, tiny] }));
    }

    [Fact]
    public void Labels_are_escaped_and_a_failed_search_marks_the_closest_candidate()
    {
        var report = ExampleReports.Failed();
        var odd = report.Candidates[0] with { Label = "a<b & \"c\"" };

        var svg = CandidateChart.ToSvg(report with { Candidates = [odd, .. report.Candidates.Skip(1)] });

        var points = Points(svg);
        Assert.Contains("a<b & \"c\"", points.Keys);
        Assert.Equal("#d62728", points["int4 (block 128)"].Attribute("stroke")!.Value);
        Assert.Contains(">closest: int4 (block 128)</text>", svg);
        Assert.DoesNotContain("chosen", svg);
    }

    [Fact]
    public void A_report_with_no_candidates_still_draws()
    {
        var report = ExampleReports.Searched() with { Candidates = [], Chosen = null };

        var svg = CandidateChart.ToSvg(report);

        Assert.Empty(Points(svg));
        Assert.Contains(">original</text>", svg);
        Assert.DoesNotContain("NaN", svg);
        Assert.DoesNotContain("Infinity", svg);
    }

    // Candidate points by the label their tooltip starts with.
    private static Dictionary<string, XElement> Points(string svg) =>
        XDocument.Parse(svg).Descendants(Svg + "circle")
            .Where(c => c.Element(Svg + "title") is not null)
            .ToDictionary(c => c.Element(Svg + "title")!.Value.Split(": ")[0]);

    private static int BudgetLines(string svg) =>
        XDocument.Parse(svg).Descendants(Svg + "line").Count(l => (string?)l.Attribute("stroke") == "#d62728");
}
