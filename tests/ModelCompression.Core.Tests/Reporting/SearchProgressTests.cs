using ModelCompression.Testing;
using ModelCompression.Core.Reporting;
using ModelCompression.Core.Tests.Planning;

namespace ModelCompression.Core.Tests.Reporting;

public class SearchProgressTests
{
    [Fact]
    public void Every_candidate_gets_a_line_with_its_figures_the_elapsed_time_and_the_best_so_far()
    {
        var log = new RecordingLog();
        var time = new ManualTime();
        var progress = new SearchProgress(log, "accuracy", time) { Total = 24 };

        time.Advance(TimeSpan.FromSeconds(30));
        progress.Candidate(new CandidateProgress("int4", 470_016, 0.8612, 1.05, WithinBudgets: false));
        time.Advance(TimeSpan.FromSeconds(12));
        progress.Candidate(new CandidateProgress("int8 static entropy", 1_258_291, 0.9087, 0.93, WithinBudgets: true));
        progress.Candidate(new CandidateProgress("int4+int8", 626_688, 0.9125, null, WithinBudgets: true));
        progress.Candidate(new CandidateProgress("int8", 877_420, 0.9165, 0.99, WithinBudgets: true));

        Assert.Equal(
        [
            "  candidate 1/24 int4: 459 KB, accuracy 0.8612, 1.05× latency — elapsed 0:30, none within the budgets yet",
            "  candidate 2/24 int8 static entropy: 1.2 MB, accuracy 0.9087, 0.93× latency — elapsed 0:42, best so far int8 static entropy 1.2 MB",
            "  candidate 3/24 int4+int8: 612 KB, accuracy 0.9125 — elapsed 0:42, best so far int4+int8 612 KB",
            "  candidate 4/24 int8: 856.9 KB, accuracy 0.9165, 0.99× latency — elapsed 0:42, best so far int4+int8 612 KB",
        ], log.Lines);
        Assert.Equal(4, progress.Count);
        Assert.Equal("int4+int8", progress.Best!.Label);
    }

    [Fact]
    public void The_total_may_be_unknown_or_grow()
    {
        var log = new RecordingLog();
        var progress = new SearchProgress(log, "agreement", new ManualTime());

        progress.Candidate(new CandidateProgress("lossless", 1000, 1, null, true));
        progress.Total = 1;
        progress.Candidate(new CandidateProgress("int8", 300, 0.99, null, true));
        progress.Sensitivity("conv1", "int4", 0.0062, 3, 12);
        progress.Stage("int4 everywhere breaks the budget: falling back the most sensitive nodes");

        Assert.Equal(
        [
            "  candidate 1 lossless: 1000 B, agreement 1.0000 — elapsed 0:00, best so far lossless 1000 B",
            "  candidate 2/2 int8: 300 B, agreement 0.9900 — elapsed 0:00, best so far int8 300 B",
            "  sensitivity 3/12 conv1 at int4: agreement -0.62 pt — elapsed 0:00",
            "  int4 everywhere breaks the budget: falling back the most sensitive nodes — elapsed 0:00",
        ], log.Lines);
    }

    [Fact]
    public void A_long_step_prints_a_line_every_ten_seconds_until_it_ends()
    {
        var log = new RecordingLog();
        var time = new ManualTime();
        var progress = new SearchProgress(log, "accuracy", time);
        time.Advance(TimeSpan.FromSeconds(5));

        using (var step = progress.BeginStep("calibrating int8 static entropy", 1000))
        {
            step.Advance(150);
            time.Advance(TimeSpan.FromSeconds(9));
            Assert.Empty(log.Lines);
            time.Advance(TimeSpan.FromSeconds(1));
            step.Advance(250);
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.Equal(400, step.Done);
            Assert.Equal(TimeSpan.FromSeconds(20), step.Elapsed);
        }
        time.Advance(TimeSpan.FromSeconds(60));
        using (progress.BeginStep("measuring latency"))
            time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(
        [
            "  calibrating int8 static entropy: 150/1000 samples after 0:10 — elapsed 0:15",
            "  calibrating int8 static entropy: 400/1000 samples after 0:20 — elapsed 0:25",
            "  measuring latency: running after 0:10 — elapsed 1:35",
        ], log.Lines);
    }

    [Fact]
    public void On_the_real_clock_a_running_step_prints_without_being_advanced()
    {
        var log = new RecordingLog();
        var progress = new SearchProgress(log, "accuracy", heartbeat: TimeSpan.FromMilliseconds(20));

        using (progress.BeginStep("one long ONNX Runtime call"))
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (log.Lines.Count == 0 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        }

        Assert.StartsWith("  one long ONNX Runtime call: running after ", Assert.Single(log.Lines.Take(1)));
    }

    [Fact]
    public void Elapsed_times_read_like_a_clock()
    {
        Assert.Equal("0:07", ReportWriter.Duration(TimeSpan.FromSeconds(7.9)));
        Assert.Equal("12:05", ReportWriter.Duration(TimeSpan.FromSeconds(725)));
        Assert.Equal("1:02:03", ReportWriter.Duration(new TimeSpan(1, 2, 3)));
    }
}

/// <summary>A clock that moves only when told; its timers fire during <see cref="Advance"/>.</summary>
internal sealed class ManualTime : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => _ticks;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state, _ticks + dueTime.Ticks, period.Ticks);
        _timers.Add(timer);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        var end = _ticks + by.Ticks;
        while (_timers.Where(t => !t.Disposed && t.Due <= end).MinBy(t => t.Due) is { } next)
        {
            _ticks = next.Due;
            next.Due += next.Period;
            next.Fire();
        }
        _ticks = end;
    }

    private sealed class ManualTimer(ManualTime owner, TimerCallback callback, object? state, long due, long period) : ITimer
    {
        public long Due { get; set; } = due;
        public long Period { get; } = period;
        public bool Disposed { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period) => throw new NotSupportedException();

        public void Dispose()
        {
            Disposed = true;
            owner._timers.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
