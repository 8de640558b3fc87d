namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>
/// Tests that count the managed bytes a run allocates run alone: a garbage collection that other tests' allocations
/// start in the middle of a measurement can add to this thread's count (one allocation quantum, about 8 KB).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurement
{
    public const string Name = "Allocation measurement";

    /// <summary>The managed bytes this thread allocates over <paramref name="runs"/> calls of <paramref name="run"/>.</summary>
    public static long AllocatedBytes(int runs, Action run)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < runs; i++) run();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
