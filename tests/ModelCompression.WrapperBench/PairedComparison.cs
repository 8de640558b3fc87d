using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ModelCompression.WrapperBench;

/// <summary>
/// The wrapper against OrtIoBinding and NamedOnnxValue in one process, block by block: every round runs each path for
/// about <see cref="BlockMilliseconds"/>, starting with a different path each round, and a ratio is the median over the
/// rounds of two paths' per-call times in the same round. What BenchmarkDotNet's one process per case cannot separate
/// from a path (where the process's memory landed, the machine's other load) then falls on both sides of a ratio alike.
/// Each <c>--compressed DIR</c> adds the wrapper over <c>DIR/&lt;model&gt;/model.onnx</c> (what a build makes of the
/// model), compared with NamedOnnxValue over the original: the change a user sees when the build takes over. Each
/// <c>--intra-op-threads N</c> adds the wrapper over the original with N intra-op threads (0: ONNX Runtime's default)
/// instead of the one every other path uses: what the threads a caller gives ONNX Runtime change.
/// </summary>
internal static class PairedComparison
{
    public const string Command = "paired";

    private const double BlockMilliseconds = 25;
    private const int DefaultRounds = 31;
    private const string WrapperPath = "Wrapper";
    private const string IoBindingPath = "IoBinding";
    private const string NamedOnnxValuePath = "NamedOnnxValues";

    private static readonly CorpusModelBenchmarks[] Models =
        [new DigitsMlpBenchmarks(), new FashionCnnBenchmarks(), new PpocrClsBenchmarks(), new PpocrRecBenchmarks(), new SileroVadBenchmarks()];

    private sealed record PathTimes(string Name, Action Call)
    {
        public List<double> BlockNanoseconds { get; } = [];
        public long AllocatedBytes { get; set; }
        public long Calls { get; set; }
        public int CallsPerBlock { get; set; } = 1;
    }

    /// <summary>
    /// Usage: <c>paired [--filter TEXT] [--rounds N] [--compressed DIR]... [--intra-op-threads N]...</c>. Prints a markdown
    /// table and writes it to BenchmarkDotNet.Artifacts/results/paired-table.md.
    /// </summary>
    public static int Run(string[] args)
    {
        var filter = Option(args, "--filter");
        var rounds = int.Parse(Option(args, "--rounds") ?? DefaultRounds.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        var compressedRoots = Options(args, "--compressed").Select(Path.GetFullPath).ToList();
        var threadCounts = Options(args, "--intra-op-threads").Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToList();
        if (threadCounts.Any(n => n < 0))
        {
            Console.Error.WriteLine("--intra-op-threads takes a thread count, or 0 for ONNX Runtime's default.");
            return 2;
        }
        foreach (var missing in compressedRoots.Where(root => !Directory.Exists(root)))
        {
            Console.Error.WriteLine($"--compressed {missing}: no such folder (make it with the CompressCorpusModels target, README).");
            return 2;
        }

        var table = new StringBuilder()
            .AppendLine("| model | batch | path | per call | allocated per call | × IoBinding (paired) | IoBinding ratio, middle half of rounds | × NamedOnnxValue (paired) |")
            .AppendLine("|---|---:|---|---:|---:|---:|---:|---:|");
        foreach (var model in Models.Where(m => filter is null || m.Folder.Contains(filter, StringComparison.OrdinalIgnoreCase)))
        {
            model.Setup();
            try
            {
                foreach (var batchSize in model.WrapperBatchSizes())
                    AppendRows(table, model, batchSize, rounds, compressedRoots, threadCounts);
            }
            finally
            {
                model.Cleanup();
            }
        }

        var text = table.ToString();
        var resultsFolder = Path.Combine("BenchmarkDotNet.Artifacts", "results");
        Directory.CreateDirectory(resultsFolder);
        var tablePath = Path.GetFullPath(Path.Combine(resultsFolder, "paired-table.md"));
        File.WriteAllText(tablePath, text);
        var compressedFrom = compressedRoots.Count == 0 ? "" : $", compressed models from {string.Join(" and ", compressedRoots)}";
        Console.WriteLine($"{rounds} rounds per row, blocks of about {BlockMilliseconds} ms, one process{compressedFrom} ({tablePath}):");
        Console.WriteLine(text);
        return 0;
    }

    private static void AppendRows(
        StringBuilder table, CorpusModelBenchmarks model, int batchSize, int rounds, IReadOnlyList<string> compressedRoots, IReadOnlyList<int> threadCounts)
    {
        var extraWrappers = compressedRoots
            .Select(root => (Name: $"{WrapperPath}, {Path.GetFileName(root)}", Model: Path.Combine(root, model.Folder, "model.onnx")))
            .Where(c => File.Exists(c.Model))
            .Select(c => (c.Name, Wrapper: model.WrapperOver(c.Model, batchSize)))
            .Concat(threadCounts.Select(n => (Name: n == 0 ? $"{WrapperPath}, default intra-op threads" : $"{WrapperPath}, {n} intra-op threads", Wrapper: model.WrapperWithIntraOpThreads(n, batchSize))))
            .ToList();
        List<PathTimes> paths =
        [
            new(WrapperPath, () => model.Wrapper(batchSize)),
            new(IoBindingPath, () => model.IoBinding(batchSize)),
            new(NamedOnnxValuePath, () => model.NamedOnnxValues(batchSize)),
            .. extraWrappers.Select(c => new PathTimes(c.Name, () => c.Wrapper.Run(batchSize))),
        ];
        Console.Error.WriteLine($"{model.Folder}, batch {batchSize}: {string.Join(", ", paths.Select(p => p.Name))}, {rounds} rounds");

        try
        {
            foreach (var path in paths)
            {
                Calibrate(path); // warm-up
                Calibrate(path);
            }
            for (var round = 0; round < rounds; round++)
            {
                for (var i = 0; i < paths.Count; i++) MeasureBlock(paths[(round + i) % paths.Count]);
            }
        }
        finally
        {
            foreach (var (_, wrapper) in extraWrappers) wrapper.Dispose();
        }

        var ioBinding = paths.Single(p => p.Name == IoBindingPath);
        var named = paths.Single(p => p.Name == NamedOnnxValuePath);
        foreach (var path in paths)
        {
            var versusIoBinding = PairedRatios(path, ioBinding);
            table.AppendLine(CultureInfo.InvariantCulture,
                $"| {model.Folder} | {batchSize} | {path.Name} | {WrapperTable.Time(Median(path.BlockNanoseconds))} | {(double)path.AllocatedBytes / path.Calls:N0} B | " +
                $"{Median(versusIoBinding):F3} | {Quantile(versusIoBinding, 0.25):F3}–{Quantile(versusIoBinding, 0.75):F3} | {Median(PairedRatios(path, named)):F3} |");
        }
    }

    // Warms the path up and sizes its blocks: as many calls as fill BlockMilliseconds, at least one.
    private static void Calibrate(PathTimes path)
    {
        var watch = Stopwatch.StartNew();
        var calls = 0;
        while (calls < 3 || watch.Elapsed.TotalMilliseconds < BlockMilliseconds)
        {
            path.Call();
            calls++;
        }
        path.CallsPerBlock = Math.Max(1, (int)(calls * BlockMilliseconds / watch.Elapsed.TotalMilliseconds));
    }

    private static void MeasureBlock(PathTimes path)
    {
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < path.CallsPerBlock; i++) path.Call();
        var elapsed = Stopwatch.GetElapsedTime(start);
        path.AllocatedBytes += GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        path.Calls += path.CallsPerBlock;
        path.BlockNanoseconds.Add(elapsed.TotalNanoseconds / path.CallsPerBlock);
    }

    private static List<double> PairedRatios(PathTimes path, PathTimes reference) =>
        [.. path.BlockNanoseconds.Zip(reference.BlockNanoseconds, (a, b) => a / b)];

    private static double Median(List<double> values) => Quantile(values, 0.5);

    private static double Quantile(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        var position = q * (sorted.Count - 1);
        var below = (int)Math.Floor(position);
        var above = Math.Min(below + 1, sorted.Count - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }

    private static string? Option(string[] args, string name) => Options(args, name).LastOrDefault();

    private static IEnumerable<string> Options(string[] args, string name)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] != name) continue;
            yield return i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
        }
    }
}
