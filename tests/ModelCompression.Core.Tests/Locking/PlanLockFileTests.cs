using System.IO.Compression;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Locking;

public class PlanLockFileTests
{
    private static readonly Plan ExamplePlan = new([
        new PassStep(PassCatalog.Lossless),
        new PassStep("int4-weights", [new("nodes", "conv2;fc1"), new("block", "32")]),
        PassCatalog.Step(PassCatalog.Int8Weights, ["fc2", "conv1"]),
    ]);

    private static PlanLock ExampleLock() => new(
        new LockInputs("0.1.0", new string('a', 64), new string('b', 64), null,
            new LockSettings("accuracy", "fusion;int8;int4", 0.01, 400 * 1024, null)),
        "1.31.1",
        ExamplePlan,
        new LockedResult("int4+int8", 0.9125, 0.9087, 0.9175, 626_688, 3_484_613, 0.93),
        new string('c', 64));

    [Fact]
    public void The_format_is_stable_readable_json_with_sorted_parameters()
    {
        var json = PlanLockFile.ToJson(ExampleLock());

        Assert.DoesNotContain("\r", json);
        Snapshot.Match(json, "json");
    }

    [Fact]
    public void A_lock_reads_back_exactly_as_written()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var written = ExampleLock() with
        {
            Inputs = ExampleLock().Inputs with { CalibrationDataSha256 = new string('d', 64), Settings = new("agreement", "", 0.005, null, 2.5) },
            Result = ExampleLock().Result with { SearchScore = null, LatencyRatio = null },
        };

        PlanLockFile.Write(path, written);
        var read = PlanLockFile.Read(path);

        Assert.Equal(written, read);
        Assert.Equal(ExamplePlan.ToString(), read!.Plan.ToString());
        Assert.Equal(PlanLockFile.ToJson(written), File.ReadAllText(path));
    }

    [Fact]
    public void The_same_inputs_and_plan_give_a_byte_identical_lock_file()
    {
        using var fixture = new LockFixture();
        var first = fixture.Combine("first.lock.json");
        var second = fixture.Combine("second.lock.json");

        PlanLockFile.Write(first, ExampleLock() with { Inputs = LockInputs.Of(fixture.Request, MetricKind.Accuracy) });
        // Save the data again: new zip timestamps, same arrays.
        LockFixture.WriteZip(fixture.ValidationPath, LockFixture.Arrays(seed: 1), new DateTimeOffset(2031, 5, 6, 7, 8, 10, TimeSpan.Zero), CompressionLevel.Fastest);
        PlanLockFile.Write(second, ExampleLock() with { Inputs = LockInputs.Of(fixture.Request, MetricKind.Accuracy) });

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        var text = File.ReadAllText(first);
        Assert.DoesNotContain(fixture.Combine(), text); // no absolute paths
    }

    [Fact]
    public void No_lock_file_reads_as_null()
    {
        using var dir = new TempDirectory();
        Assert.Null(PlanLockFile.Read(dir.Combine("model.compression.lock.json")));
    }

    [Fact]
    public void The_default_path_is_beside_the_model()
    {
        var model = Path.Combine("Models", "fashion-cnn.onnx");
        Assert.Equal(Path.Combine("Models", "fashion-cnn.compression.lock.json"), PlanLockFile.DefaultPath(model));
        var request = new CompressionRequest { ModelPath = model, OutputPath = "out.onnx" };
        Assert.Equal(PlanLockFile.DefaultPath(model), PlanLockFile.PathFor(request));
        Assert.Equal("ci.lock.json", PlanLockFile.PathFor(request with { LockPath = "ci.lock.json" }));
    }

    public static TheoryData<string, string> CorruptLocks()
    {
        var valid = PlanLockFile.ToJson(ExampleLock());
        return new()
        {
            { valid[..(valid.Length / 2)], "it is not valid JSON" },
            { "", "it is not valid JSON" },
            { "[1, 2]", "'the file' is not a JSON object" },
            { valid.Replace("\"formatVersion\": 1", "\"formatVersion\": 2"), "it is in lock format version 2, and this tool (" },
            { valid.Replace("\"formatVersion\": 1", "\"formatVersion\": \"1\""), "'formatVersion' should be a whole number but is \"1\"" },
            { valid.Replace("\"modelSha256\"", "\"modelHash\""), "it has no 'inputs.modelSha256'" },
            { valid.Replace(new string('b', 64), "bbbb"), "'inputs.validationDataSha256' should be a SHA-256" },
            { valid.Replace("\"pass\": \"lossless\"", "\"pass\": 7"), "'plan[0].pass' should be a string but is 7" },
            { valid.Replace("\"sizeBytes\": 626688", "\"sizeBytes\": 1.5"), "'achieved.sizeBytes' should be a whole number but is 1.5" },
            { valid.Replace("\"block\": \"32\"", "\"nodes\": \"32\""), "'plan[1].parameters' holds 'nodes' twice" },
        };
    }

    [Theory]
    [MemberData(nameof(CorruptLocks))]
    public void A_corrupt_or_unknown_lock_is_MC5004_naming_the_file_and_how_to_replan(string content, string problem)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        File.WriteAllText(path, content);

        var e = Assert.Throws<CompressionException>(() => PlanLockFile.Read(path));

        Assert.Equal(DiagnosticCode.LockInvalid, e.Code);
        Assert.Equal(path, e.File);
        Assert.StartsWith($"The plan lock '{path}' cannot be read: ", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.EndsWith("Delete it and build again (without ModelCompressionLockedMode) to search a new plan, then commit the new lock.", e.Message);
    }

    [Fact]
    public void A_lock_that_cannot_be_written_is_MC6001_and_leaves_no_file()
    {
        using var dir = new TempDirectory();
        var blocker = dir.Combine("not-a-folder");
        File.WriteAllText(blocker, "");
        var path = Path.Combine(blocker, "model.compression.lock.json");

        var e = Assert.Throws<CompressionException>(() => PlanLockFile.Write(path, ExampleLock()));

        Assert.Equal(DiagnosticCode.OutputWriteFailed, e.Code);
        Assert.Equal(path, e.File);
        Assert.False(File.Exists(path));
    }
}
