using System.Text.RegularExpressions;
using ModelCompression.Core.Planning.Locking;
using ModelCompression.EndToEnd.Tests.Harness;

namespace ModelCompression.EndToEnd.Tests;

/// <summary>
/// Four apps of one repository list the same model with their own budgets, built together (in parallel) as a
/// solution: each keeps its plan in the one lock beside the model, apps with equal settings plan once, a build
/// with nothing changed compresses nothing, and CI accepts every plan.
/// </summary>
public sealed partial class SharedModelTests(PackedPackage package)
{
    private static readonly string[] Budgets = ["0.5%", "1%", "2%", "1%"];

    [Fact]
    public void Projects_sharing_a_model_keep_one_plan_per_settings_and_never_fight_over_the_lock()
    {
        using var app = new ConsumerProject(package);
        app.AddSharedModel(folder: Path.Combine("..", "Shared"));
        var projects = Budgets.Select((budget, i) => app.AddSiblingProject($"App{i + 1}",
            $"""<CompressedModel Include="../Shared/digits-mlp.onnx" Link="Models/digits-mlp.onnx" ValidationData="../Shared/digits-mlp.validation.npz" MaxAccuracyDrop="{budget}" Techniques="fusion;int8" />""")).ToList();
        var solution = Path.Combine(app.Root, "all.slnx");
        File.WriteAllText(solution, $"<Solution>{string.Concat(projects.Select(p => $"<Project Path=\"{Path.GetRelativePath(app.Root, p)}\" />"))}</Solution>");
        var lockPath = Path.Combine(app.Root, "Shared", "digits-mlp.compression.lock.json");

        var first = app.Dotnet("build", solution, "-m:2").AssertSucceeded();
        Assert.Equal(3, Searches().Matches(first.Output).Count);
        Assert.Single(Applications().Matches(first.Output)); // the second app with 1% reuses the first one's plan
        var plans = PlanLockFile.Read(lockPath).Plans;
        Assert.Equal(["0.005", "0.01", "0.02"], plans.Select(p => p.Inputs.Settings.MaxAccuracyDrop.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order());
        var lockBytes = File.ReadAllBytes(lockPath);

        var unchanged = app.Dotnet("build", solution, "-m:2").AssertSucceeded();
        Assert.DoesNotContain(BuildResult.CompressingMarker, unchanged.Output);

        var ci = app.Dotnet("build", solution, "-m:2", "-p:ContinuousIntegrationBuild=true", "--no-incremental").AssertSucceeded();
        Assert.Empty(Searches().Matches(ci.Output));
        Assert.Equal(4, Applications().Matches(ci.Output).Count);
        Assert.Equal(lockBytes, File.ReadAllBytes(lockPath));
    }

    [GeneratedRegex(@"digits-mlp: searching \(")]
    private static partial Regex Searches();

    [GeneratedRegex(@"digits-mlp: applying the locked plan")]
    private static partial Regex Applications();
}
