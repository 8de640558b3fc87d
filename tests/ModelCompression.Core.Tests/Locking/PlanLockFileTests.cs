using System.IO.Compression;
using ModelCompression.Core.Data;
using ModelCompression.Core.Diagnostics;
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

    internal static PlanLock ExampleLock(double maxAccuracyDrop = 0.01, string model = "a") => new(
        new LockInputs("0.1.0", new string(model[0], 64), new string('b', 64), null,
            new LockSettings("accuracy", "fusion;int8;int4", maxAccuracyDrop, 400 * 1024, null, "fashion-cnn.validation.npz")),
        "1.31.1",
        ExamplePlan,
        new LockedResult("int4+int8", 0.9125, 0.9087, 0.9175, 626_688, 3_484_613),
        new string('c', 64));

    private static PlanLockSet ExampleSet() => PlanLockSet.Of([ExampleLock(0.02), ExampleLock(0.01)]);

    [Fact]
    public void The_format_is_stable_readable_json_with_plans_sorted_by_settings_and_sorted_parameters()
    {
        var json = PlanLockFile.ToJson(ExampleSet());

        Assert.DoesNotContain("\r", json);
        Assert.True(json.IndexOf("\"maxAccuracyDrop\": 0.01", StringComparison.Ordinal) < json.IndexOf("\"maxAccuracyDrop\": 0.02", StringComparison.Ordinal));
        Snapshot.Match(json, "json");
    }

    [Fact]
    public void A_lock_reads_back_exactly_as_written()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var other = ExampleLock() with
        {
            Inputs = ExampleLock().Inputs with { CalibrationDataSha256 = new string('d', 64), Settings = new("agreement", "", 0.005, null, 2.5, "v.npz", "../data/c.npz") },
            Result = ExampleLock().Result with { SearchScore = null },
        };
        var written = PlanLockSet.Of([ExampleLock(), other]);

        PlanLockFile.Write(path, written);
        var read = PlanLockFile.Read(path);

        Assert.Equal(written.Plans, read.Plans);
        Assert.Equal(ExamplePlan.ToString(), read.Plans[0].Plan.ToString());
        Assert.Equal(PlanLockFile.ToJson(written), File.ReadAllText(path));
    }

    [Fact]
    public void The_same_inputs_and_plan_give_a_byte_identical_lock_file()
    {
        using var fixture = new LockFixture();
        var first = fixture.Combine("first.lock.json");
        var second = fixture.Combine("second.lock.json");

        PlanLockFile.Write(first, PlanLockSet.Of([ExampleLock() with { Inputs = LockInputs.Of(fixture.Request, MetricKind.Accuracy) }]));
        // Save the data again: new zip timestamps, same arrays.
        LockFixture.WriteZip(fixture.ValidationPath, LockFixture.Arrays(seed: 1), new DateTimeOffset(2031, 5, 6, 7, 8, 10, TimeSpan.Zero), CompressionLevel.Fastest);
        PlanLockFile.Write(second, PlanLockSet.Of([ExampleLock() with { Inputs = LockInputs.Of(fixture.Request, MetricKind.Accuracy) }]));

        Assert.Equal(File.ReadAllBytes(first), File.ReadAllBytes(second));
        var text = File.ReadAllText(first);
        Assert.DoesNotContain(fixture.Combine(), text); // no absolute paths
        Assert.Contains("\"validationData\": \"validation.npz\"", text);
        Assert.Contains("\"calibrationData\": \"calibration.npz\"", text);
    }

    [Fact]
    public void No_lock_file_reads_as_an_empty_lock()
    {
        using var dir = new TempDirectory();
        Assert.Empty(PlanLockFile.Read(dir.Combine("model.compression.lock.json")).Plans);
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
        var valid = PlanLockFile.ToJson(PlanLockSet.Of([ExampleLock()]));
        return new()
        {
            { valid[..(valid.Length / 2)], "it is not valid JSON" },
            { "", "it is not valid JSON" },
            { "[1, 2]", "'the file' is not a JSON object" },
            { valid.Replace("\"formatVersion\": 3", "\"formatVersion\": 4"), "it is in lock format version 4, and this tool (" },
            { valid.Replace("\"formatVersion\": 3", "\"formatVersion\": 0"), "it is in lock format version 0, and this tool (" },
            { valid.Replace("\"formatVersion\": 3", "\"formatVersion\": \"3\""), "'formatVersion' should be a whole number but is \"3\"" },
            { valid.Replace("\"plans\": [", "\"plans\": {").Replace("}\n  ]", "}\n  }"), "it is not valid JSON" },
            { valid.Replace("\"modelSha256\"", "\"modelHash\""), "it has no 'plans[0].inputs.modelSha256'" },
            { valid.Replace(new string('b', 64), "bbbb"), "'plans[0].inputs.validationDataSha256' should be a SHA-256" },
            { valid.Replace("\"pass\": \"lossless\"", "\"pass\": 7"), "'plans[0].plan[0].pass' should be a string but is 7" },
            { valid.Replace("\"sizeBytes\": 626688", "\"sizeBytes\": 1.5"), "'plans[0].achieved.sizeBytes' should be a whole number but is 1.5" },
            { valid.Replace("\"block\": \"32\"", "\"nodes\": \"32\""), "'plans[0].plan[1].parameters' holds 'nodes' twice" },
            { new string('[', 5000) + new string(']', 5000), "it is not valid JSON" },
            { MadeOn("linux-x64").Replace("\"linux-x64\"", "\"../../etc/passwd\""), "'plans[0].platform' should be a runtime identifier such as \"linux-x64\"" },
            { MadeOn("linux-x64").Replace("\"linux-x64\"", "\"\""), "'plans[0].platform' should be a runtime identifier" },
            { MadeOn("linux-x64").Replace("\"linux-x64\"", "null"), "'plans[0].platform' should be a string but is null" },
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

    public static TheoryData<string, string> EditedPlans()
    {
        var valid = PlanLockFile.ToJson(PlanLockSet.Of([ExampleLock()]));
        var start = valid.IndexOf("\"plan\": [", StringComparison.Ordinal);
        var end = valid.IndexOf("\"achieved\"", StringComparison.Ordinal);
        return new()
        {
            { "emptied plan", valid[..start] + "\"plan\": [],\n      " + valid[end..] },
            { "renamed node", valid.Replace("conv2;fc1", "conv2;fc9") },
            { "parameter out of range", valid.Replace("\"block\": \"32\"", "\"block\": \"99\"") },
            { "unknown pass", valid.Replace("\"int8-weights\"", "\"int9-weights\"") },
            { "model hash", valid.Replace(new string('c', 64), new string('e', 64)) },
            { "budget", valid.Replace("\"maxAccuracyDrop\": 0.01", "\"maxAccuracyDrop\": 0.5") },
            { "achieved score", valid.Replace("0.9087", "0.9999") },
            { "platform", MadeOn("osx-arm64").Replace("osx-arm64", "linux-x64") },
            { "platform added", valid.Replace($"\"{new string('c', 64)}\"", $"\"{new string('c', 64)}\",\n      \"platform\": \"linux-x64\"") },
        };
    }

    private static string MadeOn(string platform) => PlanLockFile.ToJson(PlanLockSet.Of([ExampleLock() with { Platform = platform }]));

    /// <summary>
    /// A lock names the platform that made its model, after the model's hash, in format 3 (so a tool that reads only
    /// format 2 refuses it by its version, not as an edited plan); a format 2 lock, with no platform, still reads, with its
    /// fingerprint, as a plan made somewhere unknown.
    /// </summary>
    [Fact]
    public void A_lock_records_where_its_model_was_made_and_an_older_lock_without_it_still_reads()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var madeHere = ExampleLock() with { Platform = PlanLock.CurrentPlatform };
        PlanLockFile.Write(path, PlanLockSet.Of([madeHere]));

        Assert.Contains($"\"compressedModelSha256\": \"{new string('c', 64)}\",\n      \"platform\": \"{PlanLock.CurrentPlatform}\",\n      \"fingerprint\"", File.ReadAllText(path));
        var read = Assert.Single(PlanLockFile.Read(path).Plans);
        Assert.Equal(madeHere, read);
        Assert.False(read.MadeElsewhere);
        Assert.True((madeHere with { Platform = PlanLock.CurrentPlatform + "-elsewhere" }).MadeElsewhere);

        var older = PlanLockFile.ToJson(PlanLockSet.Of([ExampleLock()])).Replace("\"formatVersion\": 3", "\"formatVersion\": 2");
        Assert.Contains("\"formatVersion\": 2", older);
        Assert.DoesNotContain("platform", older);
        var unknown = Assert.Single(PlanLockFile.Parse(older, path).Plans);
        Assert.Null(unknown.Platform);
        Assert.False(unknown.MadeElsewhere);
    }

    /// <summary>The fingerprint covers the plan: a hand edit is refused, never applied.</summary>
    [Theory]
    [MemberData(nameof(EditedPlans))]
    public void A_plan_edited_after_it_was_written_is_MC5004(string edit, string content)
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        File.WriteAllText(path, content);

        var e = Assert.Throws<CompressionException>(() => PlanLockFile.Read(path));

        Assert.Equal(DiagnosticCode.LockInvalid, e.Code);
        Assert.Contains("'plans[0]' was changed after it was written: its content does not match its 'fingerprint'", e.Message);
        Assert.NotEmpty(edit);
    }

    [Fact]
    public void Reformatting_a_lock_does_not_change_its_fingerprints()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var json = PlanLockFile.ToJson(ExampleSet());
        File.WriteAllText(path, json.Replace("\n", "\r\n").Replace("  ", "\t"));

        Assert.Equal(ExampleSet().Plans, PlanLockFile.Read(path).Plans);
    }

    [Fact]
    public void A_lock_in_the_first_format_is_stale_not_an_error()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        File.WriteAllText(path, """{ "formatVersion": 1, "toolVersion": "0.1.0", "plan": [] }""");

        var status = PlanLockFile.Read(path).StatusFor(ExampleLock().Inputs);

        Assert.Equal(LockState.Stale, status.State);
        Assert.Equal(["the lock is in format 1, written by an earlier version of ModelCompression.Build"], status.Reasons);
    }

    [Fact]
    public void Two_plans_for_the_same_settings_are_MC5004()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var one = PlanLockFile.ToJson(PlanLockSet.Of([ExampleLock()]));
        var plan = one[(one.IndexOf("\"plans\": [", StringComparison.Ordinal) + 10)..one.LastIndexOf(']')].Trim();
        File.WriteAllText(path, $$"""{ "formatVersion": 2, "plans": [ {{plan}}, {{plan}} ] }""");

        var e = Assert.Throws<CompressionException>(() => PlanLockFile.Read(path));

        Assert.Contains("'plans[0]' and 'plans[1]' are for the same settings", e.Message);
    }

    [Fact]
    public void Update_keeps_one_plan_per_settings_and_drops_plans_of_another_model()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var replaced = ExampleLock(0.01) with { Result = ExampleLock().Result with { Candidate = "int8" } };

        PlanLockFile.Update(path, ExampleLock(0.02));
        PlanLockFile.Update(path, ExampleLock(0.01));
        PlanLockFile.Update(path, replaced);
        Assert.Equal([replaced, ExampleLock(0.02)], PlanLockFile.Read(path).Plans);

        // The model changed: the other project's plan is stale for it too, and goes.
        PlanLockFile.Update(path, ExampleLock(0.05, model: "f"));
        Assert.Equal([ExampleLock(0.05, model: "f")], PlanLockFile.Read(path).Plans);
    }

    /// <summary>Builds of projects sharing a model write the lock at the same time: none loses another's plan.</summary>
    [Fact]
    public void Concurrent_updates_of_one_lock_lose_no_plan()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("model.compression.lock.json");
        var plans = Enumerable.Range(1, 12).Select(i => ExampleLock(i / 100.0)).ToList();

        Parallel.ForEach(plans, new ParallelOptions { MaxDegreeOfParallelism = 12 }, plan => PlanLockFile.Update(path, plan));

        Assert.Equal(plans.OrderBy(p => p.Inputs.Settings.Key, StringComparer.Ordinal), PlanLockFile.Read(path).Plans);
    }

    [Fact]
    public void A_lock_that_cannot_be_written_is_MC6001_and_leaves_no_file()
    {
        using var dir = new TempDirectory();
        var blocker = dir.Combine("not-a-folder");
        File.WriteAllText(blocker, "");
        var path = Path.Combine(blocker, "model.compression.lock.json");

        var e = Assert.Throws<CompressionException>(() => PlanLockFile.Write(path, ExampleSet()));

        Assert.Equal(DiagnosticCode.OutputWriteFailed, e.Code);
        Assert.Equal(path, e.File);
        Assert.False(File.Exists(path));
    }
}
