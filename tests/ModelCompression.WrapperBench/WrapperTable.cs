using System.Globalization;
using BenchmarkDotNet.Reports;

namespace ModelCompression.WrapperBench;

/// <summary>
/// The benchmarks' results as one markdown table for the README: per model and batch, each method's mean time, its
/// managed allocation per call, and its mean as a multiple of the OrtIoBinding and NamedOnnxValue paths' means.
/// </summary>
internal static class WrapperTable
{
    private const double NanosecondsPerMicrosecond = 1e3;
    private const double NanosecondsPerMillisecond = 1e6;

    private sealed record Row(string Model, int BatchSize, string Method, double MeanNanoseconds, long? AllocatedBytes);

    public static string Markdown(IEnumerable<Summary> summaries)
    {
        var rows = summaries.SelectMany(s => s.Reports.Where(r => r.ResultStatistics is not null).Select(r => ToRow(r))).ToList();
        var text = new System.Text.StringBuilder()
            .AppendLine("| model | batch | method | mean | allocated | × OrtIoBinding | × NamedOnnxValue | × NamedOnnxValue per call |")
            .AppendLine("|---|---:|---|---:|---:|---:|---:|---:|");
        foreach (var group in rows.GroupBy(r => (r.Model, r.BatchSize)))
        {
            var ioBinding = group.SingleOrDefault(r => r.Method == nameof(CorpusModelBenchmarks.IoBinding));
            var named = group.SingleOrDefault(r => r.Method == nameof(CorpusModelBenchmarks.NamedOnnxValues));
            var perCall = group.SingleOrDefault(r => r.Method == nameof(CorpusModelBenchmarks.NamedOnnxValuesPerCall));
            foreach (var row in group)
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {row.Model} | {row.BatchSize} | {row.Method} | {Time(row.MeanNanoseconds)} | {Bytes(row.AllocatedBytes)} | {Ratio(row, ioBinding)} | {Ratio(row, named)} | {Ratio(row, perCall)} |");
            }
        }
        return text.ToString();
    }

    private static Row ToRow(BenchmarkReport report)
    {
        var benchmark = report.BenchmarkCase;
        var model = ((CorpusModelBenchmarks)Activator.CreateInstance(benchmark.Descriptor.Type)!).Folder;
        return new Row(model, (int)benchmark.Parameters["batchSize"], benchmark.Descriptor.WorkloadMethod.Name,
            report.ResultStatistics!.Mean, report.GcStats.GetBytesAllocatedPerOperation(benchmark));
    }

    public static string Time(double nanoseconds) => nanoseconds switch
    {
        < NanosecondsPerMicrosecond => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds:F1} ns"),
        < NanosecondsPerMillisecond => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / NanosecondsPerMicrosecond:F1} µs"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{nanoseconds / NanosecondsPerMillisecond:F2} ms"),
    };

    private static string Bytes(long? bytes) => bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b:N0} B") : "?";

    private static string Ratio(Row row, Row? reference) =>
        reference is null ? "" : string.Create(CultureInfo.InvariantCulture, $"{row.MeanNanoseconds / reference.MeanNanoseconds:F2}");
}
