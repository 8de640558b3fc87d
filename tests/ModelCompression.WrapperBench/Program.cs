using BenchmarkDotNet.Running;
using ModelCompression.WrapperBench;

if (args is [PairedComparison.Command, ..]) return PairedComparison.Run(args[1..]);

// BenchmarkDotNet's own command line (--filter, --job, ...); then the README table of every benchmark that ran.
var summaries = BenchmarkSwitcher.FromAssembly(typeof(CorpusModelBenchmarks).Assembly).Run(args).ToList();
if (summaries.Count == 0) return 0;
var table = WrapperTable.Markdown(summaries);
var tablePath = Path.Combine(summaries[0].ResultsDirectoryPath, "wrapper-table.md");
File.WriteAllText(tablePath, table);
Console.WriteLine();
Console.WriteLine($"README table ({tablePath}):");
Console.WriteLine(table);
return 0;
