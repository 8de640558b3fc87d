using ModelCompression.Core.Evaluation;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Tests.Planning;

public class CandidateSelectionTests
{
    private const double Original = 0.97;

    [Fact]
    public void The_smallest_candidate_within_the_budget_on_both_splits_is_chosen()
    {
        var candidates = new[] { Candidate("small", 100, searchDrop: 0.020, validationDrop: 0.005), Candidate("large", 200, searchDrop: 0.005, validationDrop: 0.005) };

        var selection = CandidateSelection.Select(candidates, Budgets.Default, Judge, "model.onnx");

        Assert.Equal("large", selection.Chosen!.Label);
        Assert.Equal(["large"], selection.Judged.Select(c => c.Label));
    }

    [Fact]
    public void A_search_margin_lets_a_candidate_beyond_the_budget_on_the_search_split_be_judged_on_validation()
    {
        var candidates = new[] { Candidate("small", 100, searchDrop: 0.020, validationDrop: 0.005), Candidate("large", 200, searchDrop: 0.005, validationDrop: 0.005) };

        var selection = CandidateSelection.Select(candidates, Budgets.Default, Judge, "model.onnx", searchMargin: c => c.Label == "small" ? 0.011 : 0);

        Assert.Equal("small", selection.Chosen!.Label);
    }

    [Fact]
    public void A_candidate_judged_through_the_margin_still_fails_when_validation_does_not_hold_the_budget()
    {
        var candidates = new[] { Candidate("small", 100, searchDrop: 0.020, validationDrop: 0.015), Candidate("large", 200, searchDrop: 0.005, validationDrop: 0.005) };

        var selection = CandidateSelection.Select(candidates, Budgets.Default, Judge, "model.onnx", searchMargin: _ => 0.011);

        Assert.Equal("large", selection.Chosen!.Label);
        Assert.Equal(["small", "large"], selection.Judged.Select(c => c.Label));
    }

    [Fact]
    public void A_margin_smaller_than_the_excess_does_not_make_a_candidate_eligible()
    {
        var candidates = new[] { Candidate("small", 100, searchDrop: 0.030, validationDrop: 0.005), Candidate("large", 200, searchDrop: 0.005, validationDrop: 0.005) };

        var selection = CandidateSelection.Select(candidates, Budgets.Default, Judge, "model.onnx", searchMargin: _ => 0.011);

        Assert.Equal("large", selection.Chosen!.Label);
        Assert.DoesNotContain(selection.Judged, c => c.Label == "small");
    }

    [Fact]
    public void A_tighter_search_round_keeps_the_earlier_winner_that_its_budget_no_longer_admits()
    {
        var candidates = new[] { Candidate("small", 100, searchDrop: 0.008, validationDrop: 0.009), Candidate("large", 200, searchDrop: 0.001, validationDrop: 0.001) };
        var earlier = CandidateSelection.Select(candidates, Budgets.Default, Judge, "model.onnx");
        var tighter = CandidateSelection.Select(candidates, Budgets.Default, Judge, "model.onnx", searchDrop: 0.005);

        var kept = Compressor.Better(earlier, tighter);

        Assert.Equal(("small", "large"), (earlier.Chosen!.Label, tighter.Chosen!.Label));
        Assert.Equal("small", kept.Chosen!.Label);
        Assert.Equal(["small", "large"], kept.Judged.Select(c => c.Label));
        Assert.Same(earlier, Compressor.Better(tighter, earlier)); // a later round that chose smaller wins
        Assert.Same(tighter, Compressor.Better(null, tighter));
    }

    // The validation drop travels in the hash, which nothing else here reads.
    private static Candidate Candidate(string label, long size, double searchDrop, double validationDrop)
    {
        return new Candidate(label, new Plan([]), () => new ModelProto(), validationDrop.ToString("R", System.Globalization.CultureInfo.InvariantCulture), size, new Measurement(Original - searchDrop, Original, 256),
            new LatencyComparison(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(1)))
        {
            Sketch = CompressionSketch.Unchanged with { Distilled = new DistilledWeights(label, label) },
        };
    }

    private static Candidate Judge(Candidate candidate) =>
        candidate with { Validation = new Measurement(Original - double.Parse(candidate.Hash, System.Globalization.CultureInfo.InvariantCulture), Original, 540) };
}
