using System.Globalization;
using ModelCompression.Core.Planning;

namespace ModelCompression.Core.Reporting;

/// <summary>A measured candidate, as a progress line shows it.</summary>
/// <param name="Label">The technique, e.g. "int8 static entropy".</param>
/// <param name="Score">The score the search ranks on.</param>
/// <param name="LatencyRatio">Median latency / the original's; null when not measured.</param>
/// <param name="WithinBudgets">Whether it meets every budget judged so far (it may then be "best so far").</param>
public sealed record CandidateProgress(string Label, long SizeBytes, double Score, double? LatencyRatio, bool WithinBudgets);

/// <summary>
/// The search's progress in the build log (<see cref="ICompressionLog.Info"/>, shown at normal
/// verbosity), so that a long search is never silent: one line per candidate measured, e.g.
/// <c>candidate 7/24 int8 static entropy: 1.2 MB, accuracy 0.9087, 0.93× latency — elapsed 0:42, best so far int4+int8 612 KB</c>,
/// and, during a long step such as calibration, a line at least every <see cref="HeartbeatInterval"/>.
/// It only formats and times; the search decides what to report. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var progress = new SearchProgress(log, "accuracy") { Total = nodes.Count };
/// foreach (var node in nodes) progress.Sensitivity(node, "int4", drop, i + 1, nodes.Count);
/// using (var step = progress.BeginStep("calibrating int8 static entropy", calibration.Count, "samples"))
///     foreach (var sample in samples) { Observe(sample); step.Advance(); }
/// progress.Total = 24;
/// progress.Candidate(new CandidateProgress("int8 static entropy", size, score, ratio, withinBudgets));
/// </code>
/// </example>
public sealed class SearchProgress
{
    /// <summary>How often a running step prints a line.</summary>
    public static TimeSpan DefaultHeartbeat { get; } = TimeSpan.FromSeconds(10);

    private readonly ICompressionLog _log;
    private readonly string _metric;
    private readonly TimeProvider _time;
    private readonly long _start;
    private readonly object _gate = new();
    private CandidateProgress? _best;
    private int _count;

    /// <param name="metric">The metric's name, e.g. "accuracy".</param>
    /// <param name="time">The clock (a test passes a manual one).</param>
    /// <param name="heartbeat">How often a running step prints a line; <see cref="DefaultHeartbeat"/> by default.</param>
    public SearchProgress(ICompressionLog log, string metric, TimeProvider? time = null, TimeSpan? heartbeat = null)
    {
        _log = log;
        _metric = metric;
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
        HeartbeatInterval = heartbeat ?? DefaultHeartbeat;
    }

    public TimeSpan HeartbeatInterval { get; }

    /// <summary>How many candidates the search plans so far (it may raise it as it goes); null prints no total.</summary>
    public int? Total { get; set; }

    /// <summary>Candidates reported so far.</summary>
    public int Count
    {
        get { lock (_gate) return _count; }
    }

    /// <summary>The smallest candidate within the budgets reported so far.</summary>
    public CandidateProgress? Best
    {
        get { lock (_gate) return _best; }
    }

    public TimeSpan Elapsed => _time.GetElapsedTime(_start);

    /// <summary>Prints the candidate's line (every candidate gets one).</summary>
    public void Candidate(CandidateProgress candidate)
    {
        lock (_gate)
        {
            _count++;
            if (candidate.WithinBudgets && (_best is null || candidate.SizeBytes < _best.SizeBytes)) _best = candidate;
            var of = Total is { } total ? $"/{Math.Max(total, _count)}" : "";
            var latency = candidate.LatencyRatio is { } r ? $", {ReportWriter.Times(r)} latency" : "";
            var best = _best is { } b ? $"best so far {b.Label} {Quantity.FormatSize(b.SizeBytes)}" : "none within the budgets yet";
            _log.Info($"  candidate {_count}{of} {candidate.Label}: {Quantity.FormatSize(candidate.SizeBytes)}, {_metric} {ReportWriter.Score(candidate.Score)}{latency} — elapsed {ReportWriter.Duration(Elapsed)}, {best}");
        }
    }

    /// <summary>Prints one node's sensitivity: its score drop when compressed alone at <paramref name="setting"/>.</summary>
    /// <param name="index">1-based.</param>
    /// <param name="measure">What <paramref name="drop"/> is when not the metric's drop, e.g. "predictions changed".</param>
    public void Sensitivity(string node, string setting, double drop, int index, int count, string? measure = null) =>
        Line($"  sensitivity {index}/{count} {node} at {setting}: " +
             (measure is null ? $"{_metric} {ReportWriter.Change(drop)}" : string.Create(CultureInfo.InvariantCulture, $"{measure} {drop:P2}")) + $" — elapsed {ReportWriter.Duration(Elapsed)}");

    /// <summary>Prints <paramref name="message"/> with the elapsed time, e.g. for the start of a stage.</summary>
    public void Stage(string message) => Line($"  {message} — elapsed {ReportWriter.Duration(Elapsed)}");

    /// <summary>
    /// Starts a long step: until it is disposed, a line every <see cref="HeartbeatInterval"/> says how far it got
    /// (<paramref name="units"/> given: "400/1000 samples"), so the log never goes quiet.
    /// </summary>
    public ProgressStep BeginStep(string description, int? units = null, string unitName = "samples") =>
        new(this, description, units, unitName);

    private void Line(string text)
    {
        lock (_gate) _log.Info(text);
    }

    /// <summary>A running step; <see cref="Advance"/> as its units complete (from any thread), dispose when it ends.</summary>
    public sealed class ProgressStep : IDisposable
    {
        private readonly SearchProgress _progress;
        private readonly string _description;
        private readonly int? _units;
        private readonly string _unitName;
        private readonly long _start;
        private readonly ITimer _timer;
        private int _done;
        private bool _ended;

        internal ProgressStep(SearchProgress progress, string description, int? units, string unitName)
        {
            (_progress, _description, _units, _unitName) = (progress, description, units, unitName);
            _start = progress._time.GetTimestamp();
            _timer = progress._time.CreateTimer(_ => Heartbeat(), null, progress.HeartbeatInterval, progress.HeartbeatInterval);
        }

        /// <summary>How long the step has run.</summary>
        public TimeSpan Elapsed => _progress._time.GetElapsedTime(_start);

        /// <summary>Units completed so far.</summary>
        public int Done => Volatile.Read(ref _done);

        public void Advance(int units = 1) => Interlocked.Add(ref _done, units);

        public void Dispose()
        {
            lock (_progress._gate) _ended = true;
            _timer.Dispose();
        }

        private void Heartbeat()
        {
            lock (_progress._gate)
            {
                if (_ended) return;
                var far = _units is { } total ? $"{Done.ToString(CultureInfo.InvariantCulture)}/{total} {_unitName}" : "running";
                _progress._log.Info($"  {_description}: {far} after {ReportWriter.Duration(Elapsed)} — elapsed {ReportWriter.Duration(_progress.Elapsed)}");
            }
        }
    }
}
