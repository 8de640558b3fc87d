using System.IO.Compression;
using Google.Protobuf;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Testing;
using ModelCompression.Testing.Fuzzing;

namespace ModelCompression.Core.Tests.Fuzzing;

/// <summary>The fuzzer itself: it must report crashes and hangs (or the fuzz tests could never fail), replay a seed, and keep its mutations structured.</summary>
public class MutationFuzzerTests
{
    private static readonly byte[][] Seeds = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 9, 9]];

    [Fact]
    public void Outcomes_are_sorted_into_successes_coded_failures_and_crashes_with_the_crashing_input_saved()
    {
        // A "parser" that refuses inputs starting with 0 (coded) and crashes on those starting with 0xFF.
        var target = new FuzzTarget("toy", Seeds, new ByteMutator(), bytes => bytes switch
        {
            [0xFF, ..] => throw new IndexOutOfRangeException("a parser bug"),
            [0, ..] => throw new CompressionException(DiagnosticCode.DataInvalid, "toy", "refused"),
            _ => null,
        }, FuzzTarget.CompressionCode);

        var report = MutationFuzzer.Run(target, 2_000, seed: 1);

        Assert.Equal(2_000, report.Mutations);
        Assert.Equal(report.Mutations, report.Successes + report.CodedFailures.Values.Sum() + report.CrashCount);
        Assert.True(report.Successes > 0);
        Assert.True(report.CodedFailures[DiagnosticCode.DataInvalid] > 0);
        Assert.True(report.CrashCount > 0);
        var crash = Assert.Single(report.FirstCrashes); // one kind of crash, saved once
        Assert.Contains("IndexOutOfRangeException", crash.Failure);
        Assert.Equal(0xFF, File.ReadAllBytes(crash.InputPath)[0]);
        Assert.Contains("seed 1", report.ToString());
        Assert.Contains(crash.InputPath, report.ToString());
    }

    [Fact]
    public void An_internal_error_code_counts_as_a_crash()
    {
        var target = new FuzzTarget("internal", Seeds, new ByteMutator(),
            _ => throw new CompressionException(DiagnosticCode.InternalError, null, "a bug"), FuzzTarget.CompressionCode);

        Assert.Equal(10, MutationFuzzer.Run(target, 10, seed: 1).CrashCount);
    }

    [Fact]
    public void An_input_that_runs_past_the_timeout_is_reported_as_a_hang()
    {
        var target = new FuzzTarget("hang", Seeds, new ByteMutator(), _ =>
        {
            Thread.Sleep(Timeout.Infinite);
            return null;
        }, FuzzTarget.CompressionCode);

        var report = MutationFuzzer.Run(target, 10, seed: 1, timeout: TimeSpan.FromMilliseconds(200));

        Assert.Equal(1, report.CrashCount);
        Assert.StartsWith("hang", report.FirstCrashes[0].Failure);
    }

    [Fact]
    public void The_same_seed_replays_the_same_mutations()
    {
        var mutator = new ByteMutator("token");
        byte[][] Inputs(int seed)
        {
            var random = new Random(seed);
            return Enumerable.Range(0, 200).Select(_ => mutator.Mutate(Seeds[0], Seeds[1], random)).ToArray();
        }

        Assert.Equal(Inputs(5), Inputs(5));
        Assert.NotEqual(Inputs(5), Inputs(6));
    }

    [Fact]
    public void The_zip_mutator_writes_archives_whose_entries_still_read_with_a_valid_CRC()
    {
        var archive = new MemoryStream();
        using (var zip = new ZipArchive(archive, ZipArchiveMode.Create, leaveOpen: true))
        using (var entry = zip.CreateEntry("x.npy").Open())
            entry.Write(new byte[100]);
        var mutator = new ZipMutator(new ByteMutator(), new ByteMutator(), "labels.npy");
        var random = new Random(3);

        var mutated = Enumerable.Range(0, 200).Select(_ => mutator.Mutate(archive.ToArray(), archive.ToArray(), random)).ToList();

        // Most mutations reach an entry's content through a readable archive; reading the content checks its CRC.
        var readable = mutated.Count(bytes =>
        {
            try
            {
                using var zip = new ZipArchive(new MemoryStream(bytes), ZipArchiveMode.Read);
                foreach (var entry in zip.Entries) entry.Open().CopyTo(Stream.Null);
                return true;
            }
            catch (InvalidDataException)
            {
                return false;
            }
        });
        Assert.True(readable > 150, $"{readable} of 200 mutated archives read.");
    }

    [Fact]
    public void The_wire_format_reads_back_a_model_to_the_same_bytes_and_the_protobuf_mutator_keeps_most_of_it_parseable()
    {
        var bytes = ExternalWeightModel.Create("weights.bin", "0", "64").ToByteArray();
        var mutator = new ProtobufMutator(new ByteMutator(), new ByteMutator());
        var random = new Random(4);

        Assert.Equal(bytes, WireMessage.Parse(bytes)!.ToBytes());
        var parseable = Enumerable.Range(0, 200).Count(_ =>
        {
            try
            {
                ModelProto.Parser.ParseFrom(mutator.Mutate(bytes, bytes, random));
                return true;
            }
            catch (InvalidProtocolBufferException)
            {
                return false;
            }
        });
        Assert.True(parseable > 100, $"{parseable} of 200 mutated models parse.");
    }
}
