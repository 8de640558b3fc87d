using ModelCompression.Core.Passes;
using ModelCompression.Core.Onnx;
using ModelCompression.Core.Planning;
using ModelCompression.Core.Planning.Locking;

namespace ModelCompression.Core.Tests.Locking;

/// <summary>The lock as the compressor uses it: write it after a search, then, on the next build, apply the plan without searching.</summary>
public class LockWorkflowTests
{
    [Fact]
    public void A_current_lock_reapplies_its_plan_to_a_byte_identical_model()
    {
        using var fixture = new LockFixture();
        var request = fixture.Request;
        var lockPath = PlanLockFile.PathFor(request);

        // First build: no lock yet, so the search chooses a plan; the model and the lock are written.
        Assert.Empty(PlanLockFile.Read(lockPath).Plans);
        var plan = Plan.Empty.Then(new PassStep(PassCatalog.Lossless)).Then(PassCatalog.Step(PassCatalog.Int8Weights, ["layer_b"]));
        var source = OnnxModelFile.Load(request.ModelPath);
        OnnxModelFile.Save(PassCatalog.Apply(source, plan, PassContext.None), request.OutputPath);
        var written = new PlanLock(
            LockInputs.Of(request, MetricKind.Accuracy), PlanLock.CurrentOnnxRuntimeVersion, plan,
            new LockedResult("int8 on 1/2 layers", 0.95, 0.95, 1.0, new FileInfo(request.OutputPath).Length, new FileInfo(request.ModelPath).Length),
            ContentHash.OfFile(request.OutputPath));
        PlanLockFile.Update(lockPath, written);
        File.Delete(request.OutputPath);

        // Second build (another clone): the lock is current, so its plan is applied without a search.
        var status = PlanLockFile.Read(lockPath).StatusFor(LockInputs.Of(request, MetricKind.Accuracy));
        Assert.True(status.IsCurrent);
        var locked = status.Plan!;
        OnnxModelFile.Save(PassCatalog.Apply(OnnxModelFile.Load(request.ModelPath), locked.Plan, PassContext.None), request.OutputPath);

        Assert.Equal(locked.CompressedModelSha256, ContentHash.OfFile(request.OutputPath));
        Assert.Equal(fixture.Combine("model.compression.lock.json"), lockPath);
    }
}
