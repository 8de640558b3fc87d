using System.Diagnostics;
using ModelCompression.Core.Diagnostics;

namespace ModelCompression.Testing.Fuzzing;

/// <summary>
/// A seeded mutation fuzzer: it mutates the target's seed inputs, runs the parser on each, and
/// sorts every outcome into success, a documented coded failure, or a crash (any other exception,
/// or an input that runs longer than the timeout). The same seed replays the same inputs.
/// </summary>
public static class MutationFuzzer
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    // Distinct crashes saved and listed; the rest are counted.
    private const int SavedCrashes = 5;

    /// <summary>Runs <paramref name="iterations"/> mutated inputs through <paramref name="target"/>.</summary>
    /// <param name="timeout">How long one input may run before it counts as a hang; <see cref="DefaultTimeout"/> when null.</param>
    public static FuzzReport Run(FuzzTarget target, int iterations, int seed, TimeSpan? timeout = null)
    {
        var run = new FuzzRun(target, seed);
        var stopwatch = Stopwatch.StartNew();
        // The inputs run on their own thread, so that this one can tell a hang (and leave it behind) from slow progress.
        var worker = new Thread(() => run.Execute(iterations)) { IsBackground = true, Name = $"fuzz {target.Name}" };
        worker.Start();
        while (!worker.Join(TimeSpan.FromMilliseconds(100)))
        {
            if (run.CurrentInputTime() <= (timeout ?? DefaultTimeout)) continue;
            run.RecordHang(timeout ?? DefaultTimeout);
            break;
        }
        return run.Report(stopwatch.Elapsed);
    }

    /// <summary>The state of one run, shared between the thread that runs the inputs and the one that watches it.</summary>
    private sealed class FuzzRun(FuzzTarget target, int seed)
    {
        private readonly object _gate = new();
        private readonly Dictionary<string, int> _codes = new(StringComparer.Ordinal);
        private readonly List<FuzzCrash> _crashes = [];
        private readonly HashSet<string> _crashKinds = new(StringComparer.Ordinal);
        private int _done, _successes, _crashCount;
        private long _inputStarted;
        private (int Iteration, byte[] Input) _current;

        public void Execute(int iterations)
        {
            var random = new Random(seed);
            for (var i = 0; i < iterations; i++)
            {
                var input = target.Mutator.Mutate(Pick(random), Pick(random), random);
                lock (_gate)
                {
                    _current = (i, input);
                    _inputStarted = Stopwatch.GetTimestamp();
                }
                var (code, crash) = Outcome(input);
                lock (_gate)
                {
                    _inputStarted = 0;
                    if (crash is not null) AddCrash(i, input, crash);
                    else if (code is not null) _codes[code] = _codes.GetValueOrDefault(code) + 1;
                    else _successes++;
                    _done++;
                }
            }
        }

        public TimeSpan CurrentInputTime()
        {
            lock (_gate) return _inputStarted == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_inputStarted);
        }

        public void RecordHang(TimeSpan timeout)
        {
            lock (_gate) AddCrash(_current.Iteration, _current.Input, $"hang: still running after {timeout.TotalSeconds:0} s");
        }

        public FuzzReport Report(TimeSpan elapsed)
        {
            lock (_gate)
                return new FuzzReport(target.Name, seed, _done + (_inputStarted == 0 ? 0 : 1), _successes, new Dictionary<string, int>(_codes),
                    _crashCount, [.. _crashes], elapsed);
        }

        private byte[] Pick(Random random) => target.Seeds[random.Next(target.Seeds.Count)];

        // (code, null) a coded failure, (null, null) a success, (_, description) a crash.
        private (string? Code, string? Crash) Outcome(byte[] input)
        {
            try
            {
                return (target.Run(input), null);
            }
            catch (Exception e)
            {
                return target.CodeOf(e) is { } code ? (code, null) : (null, Describe(e));
            }
        }

        private void AddCrash(int iteration, byte[] input, string failure)
        {
            _crashCount++;
            // One saved input per kind of crash (exception type and where it was thrown): the first is enough to fix it.
            if (_crashes.Count >= SavedCrashes || !_crashKinds.Add(failure.Split('\n')[0])) return;
            var directory = Path.Combine(Path.GetTempPath(), "modelcompression-fuzz");
            Directory.CreateDirectory(directory);
            var path = Path.Combine(directory, $"{target.Name}-seed{seed}-mutation{iteration}.bin");
            File.WriteAllBytes(path, input);
            _crashes.Add(new FuzzCrash(iteration, failure, path));
        }

        private static string Describe(Exception e)
        {
            var frame = new StackTrace(e, fNeedFileInfo: false).GetFrames().FirstOrDefault(f => f.GetMethod() is not null)?.GetMethod();
            var where = frame is null ? "" : $" at {frame.DeclaringType?.FullName}.{frame.Name}";
            var code = e is CompressionException c ? $" {c.Code}" : "";
            return $"{e.GetType().Name}{code}{where}\n    {e.Message.ReplaceLineEndings(" ")}";
        }
    }
}
