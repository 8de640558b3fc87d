using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// A plan lock is a file in the repository: edited by hand, merged badly, or crafted. The worker never applies a plan
/// it did not choose, and in locked mode never ships a model other than the locked one on the platform that made it.
/// </summary>
public sealed class UntrustedLockTests
{
    public static TheoryData<string> HandEdits() => ["emptied plan", "node renamed", "bits out of range", "unknown pass"];

    /// <summary>Edits a lock the worker wrote, as a person would in a text editor (the fingerprint is left as it was).</summary>
    private static string Edit(string json, string edit) => edit switch
    {
        "emptied plan" => json[..json.IndexOf("\"plan\": [", StringComparison.Ordinal)] + "\"plan\": [],\n      " + json[json.IndexOf("\"achieved\"", StringComparison.Ordinal)..],
        "node renamed" => json.Replace("layer_a", "layer_x"),
        "bits out of range" => json.Replace("\"nodes\": \"layer_a", "\"bits\": \"99\",\n            \"nodes\": \"layer_a"),
        "unknown pass" => json.Replace("\"int8-weights\"", "\"int9-weights\""),
        _ => throw new ArgumentOutOfRangeException(nameof(edit)),
    };

    [Theory]
    [MemberData(nameof(HandEdits))]
    public void A_hand_edited_lock_is_MC5004_in_normal_and_in_locked_mode_and_ships_nothing(string edit)
    {
        using var folder = new WorkerFolder();
        folder.Compress().AssertSucceeded();
        var json = File.ReadAllText(folder.LockPath);
        var edited = Edit(json, edit);
        Assert.NotEqual(json, edited);
        File.WriteAllText(folder.LockPath, edited);

        foreach (var mode in new[] { Array.Empty<string>(), ["--locked-mode"] })
        {
            var run = folder.Compress(mode).AssertFailsWith("MC5004");
            Assert.Contains("was changed after it was written", run.Output);
            Assert.False(File.Exists(folder.OutputPath), $"a model was shipped from an edited lock ({edit}).{Environment.NewLine}{run.Command}");
        }
        Assert.Equal(edited, File.ReadAllText(folder.LockPath)); // the user's file is left as it is
    }

    public static TheoryData<string, string, string> BadPlans() => new()
    {
        { "missing node", "int8-weights nodes=layer_x", "'plans[0].plan[1].parameters.nodes' names the node 'layer_x', which the model does not have" },
        { "bits out of range", "palettize bits=layer_a=99", "'plans[0].plan[1].parameters' is invalid: Node 'layer_a': palettes use" },
        { "negative rank", "lowrank ranks=layer_a=-3", "'plans[0].plan[1].parameters' is invalid: The rank of 'layer_a' is -3" },
        { "unknown pass", "int9-weights nodes=layer_a", "'plans[0].plan[1].pass' names the pass 'int9-weights', which this tool does not know" },
        { "unparsable map", "lowrank ranks=layer_a", "'plans[0].plan[1].parameters.ranks' is invalid: 'layer_a' is not of the form node=value" },
    };

    /// <summary>A lock whose fingerprint holds (written by another tool, or re-fingerprinted) but whose plan does not apply: MC5004 naming the field.</summary>
    [Theory]
    [MemberData(nameof(BadPlans))]
    public void A_locked_plan_that_does_not_apply_is_MC5004_naming_the_field(string name, string step, string problem)
    {
        using var folder = new WorkerFolder();
        folder.Compress().AssertSucceeded();
        var locked = Assert.Single(PlanLockFile.Read(folder.LockPath).Plans);
        var parts = step.Split(' ');
        var parameter = parts[1].Split('=', 2);
        var plan = new Plan([locked.Plan.Steps[0], new PassStep(parts[0], [KeyValuePair.Create(parameter[0], parameter[1])])]);
        PlanLockFile.Write(folder.LockPath, PlanLockSet.Of([locked with { Plan = plan }]));

        var run = folder.Compress().AssertFailsWith("MC5004");

        Assert.True(run.Output.Contains(problem, StringComparison.Ordinal), $"{name}: expected \"{problem}\".{Environment.NewLine}{run.Command}");
        Assert.False(File.Exists(folder.OutputPath), name);
    }

    /// <summary>Locked mode ships the locked model or nothing: a plan that now gives other bytes fails.</summary>
    [Fact]
    public void In_locked_mode_a_plan_that_gives_another_model_than_the_lock_records_is_MC5005()
    {
        using var folder = new WorkerFolder();
        folder.Compress().AssertSucceeded();
        var locked = Assert.Single(PlanLockFile.Read(folder.LockPath).Plans);
        Assert.Equal(PlanLock.CurrentPlatform, locked.Platform);
        PlanLockFile.Write(folder.LockPath, PlanLockSet.Of([locked with { CompressedModelSha256 = new string('0', 64) }]));

        var run = folder.Compress("--locked-mode").AssertFailsWith("MC5005");

        Assert.Contains($"but the lock records {new string('0', 64)}", run.Output);
        Assert.Contains($"though the lock was made on this platform ({PlanLock.CurrentPlatform})", run.Output);
        Assert.False(File.Exists(folder.OutputPath));
        folder.Compress().AssertSucceeded(); // outside locked mode the plan is measured as it is
    }

    /// <summary>A lock written before locks recorded their platform is held to its bytes as before, and the error says why they may differ.</summary>
    [Fact]
    public void In_locked_mode_a_lock_that_does_not_say_where_it_was_made_is_held_to_its_model()
    {
        using var folder = new WorkerFolder();
        folder.Compress().AssertSucceeded();
        var locked = Assert.Single(PlanLockFile.Read(folder.LockPath).Plans);
        PlanLockFile.Write(folder.LockPath, PlanLockSet.Of([locked with { CompressedModelSha256 = new string('0', 64), Platform = null }]));
        Assert.DoesNotContain("\"platform\"", File.ReadAllText(folder.LockPath));

        var run = folder.Compress("--locked-mode").AssertFailsWith("MC5005");

        Assert.Contains("the lock does not say where it was made", run.Output);
        Assert.False(File.Exists(folder.OutputPath));
    }

    /// <summary>
    /// Another platform's ONNX Runtime rounds the statistics the passes use otherwise (a lock made on x64 gives other bytes
    /// on arm64), so there the locked plan's model is measured against the budgets instead of refused.
    /// </summary>
    [Fact]
    public void In_locked_mode_a_lock_made_on_another_platform_ships_the_plans_model_as_measured_here()
    {
        using var folder = new WorkerFolder();
        folder.Compress().AssertSucceeded();
        var planModel = File.ReadAllBytes(folder.OutputPath);
        var locked = Assert.Single(PlanLockFile.Read(folder.LockPath).Plans);
        var elsewhere = PlanLock.CurrentPlatform == "osx-arm64" ? "linux-x64" : "osx-arm64";
        PlanLockFile.Write(folder.LockPath, PlanLockSet.Of([locked with { CompressedModelSha256 = new string('0', 64), Platform = elsewhere }]));
        var lockBefore = File.ReadAllText(folder.LockPath);

        var run = folder.Compress("--locked-mode").AssertSucceeded();

        Assert.Contains($"the locked model was made on {elsewhere}", run.Output);
        Assert.Equal(planModel, File.ReadAllBytes(folder.OutputPath));
        Assert.Equal(lockBefore, File.ReadAllText(folder.LockPath)); // the lock is the committed one, never rewritten by a build that applies it
    }

    /// <summary>A 3 GB (sparse) lock is refused before it is read, not an out-of-memory crash.</summary>
    [Fact]
    public void A_huge_lock_file_is_MC5004_before_it_is_read()
    {
        using var folder = new WorkerFolder();
        using (var file = File.Create(folder.LockPath)) file.SetLength(3L << 30);

        var run = folder.Compress().AssertFailsWith("MC5004");

        Assert.Contains("more than any lock this tool writes", run.Output);
    }
}
