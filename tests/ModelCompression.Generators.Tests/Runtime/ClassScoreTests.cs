using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>
/// The class-score helpers the generator wrote for ScoresModel (Runtime/ScoresModel.mcsig, labels in
/// Runtime/ScoresModel.labels.txt), run on ONNX Runtime: float, float16 (System.Half, in and out) and double scores.
/// </summary>
public class ClassScoreTests : IDisposable
{
    private readonly TempDirectory _folder = new();
    private readonly ScoresModel _model;

    public ClassScoreTests() => _model = new ScoresModel(WrapperRuntimeTests.Save(RuntimeModels.Scores(), _folder));

    public void Dispose()
    {
        _model.Dispose();
        _folder.Dispose();
    }

    // Three samples of four classes: a clear winner, ties (the lower index wins), and negative scores.
    private static readonly float[] Scores =
    [
        0.1f, 0.7f, 0.2f, -1f,
        3f, 1f, 3f, 1f,
        -5f, -2f, -9f, -2f,
    ];

    [Fact]
    public void ArgMax_picks_the_highest_score_of_each_sample_and_the_lower_index_on_ties()
    {
        RunWith(Scores);

        int[] expected = [1, 0, 1];
        for (var sample = 0; sample < 3; sample++)
        {
            Assert.Equal(expected[sample], _model.ScoresArgMax(sample));
            Assert.Equal(expected[sample], _model.HalfScoresArgMax(sample));
            Assert.Equal(expected[sample], _model.DoubleScoresArgMax(sample));
        }
        Assert.Equal(1, _model.ScoresArgMax()); // sample 0 by default
    }

    [Fact]
    public void TopK_writes_the_k_best_classes_best_first_and_ties_in_index_order()
    {
        RunWith(Scores);
        Span<int> top = stackalloc int[4];

        _model.ScoresTopK(top, sample: 0);
        Assert.Equal([1, 2, 0, 3], top.ToArray());
        _model.HalfScoresTopK(top, sample: 1);
        Assert.Equal([0, 2, 1, 3], top.ToArray());
        _model.DoubleScoresTopK(top[..2], sample: 2);
        Assert.Equal([1, 3], top[..2].ToArray());
        _model.ScoresTopK(top[..1], sample: 1);
        Assert.Equal(0, top[0]);
        _model.ScoresTopK(Span<int>.Empty); // k = 0 writes nothing
    }

    [Fact]
    public void TopK_agrees_with_a_stable_sort_on_random_scores_with_many_ties()
    {
        var random = new Random(3);
        Span<int> top = stackalloc int[3];
        for (var round = 0; round < 200; round++)
        {
            var scores = Enumerable.Range(0, 12).Select(_ => (float)random.Next(4)).ToArray();
            RunWith(scores);
            for (var sample = 0; sample < 3; sample++)
            {
                var expected = Enumerable.Range(0, 4).OrderByDescending(c => scores[sample * 4 + c]).Take(3).ToArray(); // OrderBy is stable
                _model.ScoresTopK(top, sample);
                Assert.Equal(expected, top.ToArray());
                Assert.Equal(expected[0], _model.HalfScoresArgMax(sample));
            }
        }
    }

    [Fact]
    public void Labels_come_from_the_labels_file_and_name_the_ArgMax_class()
    {
        RunWith(Scores);

        Assert.Equal(["cat", "dog", "bird", "fish"], ScoresModel.Labels);
        Assert.IsNotType<string[]>(ScoresModel.Labels); // read-only: no cast back to a mutable array
        Assert.Equal("dog", _model.ScoresArgMaxLabel(0));
        Assert.Equal("cat", _model.HalfScoresArgMaxLabel(1));
        Assert.Equal("dog", _model.DoubleScoresArgMaxLabel(2));
    }

    [Fact]
    public void A_sample_outside_the_batch_or_k_above_the_class_count_throws()
    {
        RunWith(Scores);
        var tooMany = new int[5];

        Assert.Throws<ArgumentOutOfRangeException>(() => _model.ScoresArgMax(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _model.HalfScoresArgMaxLabel(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _model.DoubleScoresTopK(new int[2], 3));
        Assert.Throws<ArgumentException>(() => _model.ScoresTopK(tooMany));
    }

    [Fact]
    public void The_helpers_allocate_nothing()
    {
        RunWith(Scores);
        Span<int> top = stackalloc int[3];
        var sum = 0;

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            sum += _model.ScoresArgMax(i % 3) + _model.HalfScoresArgMax() + _model.DoubleScoresArgMax(2);
            _model.HalfScoresTopK(top, i % 3);
            sum += _model.ScoresArgMaxLabel(1).Length;
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(sum > 0);
    }

    // float16 travels both ways: the Half input x16 comes back as the Half output half_scores.
    private void RunWith(float[] scores)
    {
        scores.CopyTo(_model.X);
        for (var i = 0; i < scores.Length; i++) _model.X16[i] = (Half)scores[i];
        _model.Run();
        Assert.Equal(scores, _model.Scores.ToArray());
        Assert.Equal(scores.Select(s => (Half)s), _model.HalfScores.ToArray());
        Assert.Equal(scores.Select(s => (double)s), _model.DoubleScores.ToArray());
    }
}
