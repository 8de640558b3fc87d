using ModelCompression.Core.Passes.DataAware;

namespace ModelCompression.Core.Tests.Passes.DataAware;

public sealed class BoundedCacheTests
{
    [Fact]
    public void Callers_asking_while_a_value_is_computed_wait_for_it_instead_of_computing_it_again()
    {
        var cache = new BoundedCache(1 << 20);
        var computed = 0;
        using var started = new ManualResetEventSlim();
        using var gate = new ManualResetEventSlim();
        var results = new object[4];
        var callers = Enumerable.Range(0, results.Length).Select(i => new Thread(() => results[i] = cache.GetOrAdd("factor", () =>
        {
            Interlocked.Increment(ref computed);
            started.Set();
            gate.Wait(TestContext.Current.CancellationToken);
            return new object();
        }, _ => 8))).ToArray();

        callers[0].Start();
        started.Wait(TestContext.Current.CancellationToken);
        foreach (var caller in callers.Skip(1)) caller.Start();
        // Every other caller is blocked (on the computation, or inside a second one) before the first may finish.
        while (!callers.Skip(1).All(c => c.ThreadState.HasFlag(ThreadState.WaitSleepJoin))) Thread.Yield();
        gate.Set();
        foreach (var caller in callers) caller.Join();

        Assert.Equal(1, computed);
        Assert.All(results, r => Assert.Same(results[0], r));
    }

    [Fact]
    public void A_failed_computation_is_not_kept_and_the_next_caller_computes_again()
    {
        var cache = new BoundedCache(1 << 20);

        Assert.Throws<InvalidOperationException>(() => cache.GetOrAdd<object>("factor", () => throw new InvalidOperationException("not definite"), _ => 8));
        var value = cache.GetOrAdd("factor", () => "computed", _ => 8);

        Assert.Equal("computed", value);
    }

    [Theory]
    [InlineData(false, 2)]
    [InlineData(true, 1)]
    public void A_value_larger_than_the_budget_is_kept_only_by_a_cache_that_keeps_the_newest(bool keepsTheNewest, int expectedComputations)
    {
        var cache = new BoundedCache(100, keepsTheNewest);
        var computed = 0;
        string Get() => cache.GetOrAdd("spectrum", () => $"spectrum {++computed}", _ => 1000);

        Get();
        Get();

        Assert.Equal(expectedComputations, computed);
    }

    [Fact]
    public void The_least_recently_used_values_go_first_when_the_budget_is_exceeded()
    {
        var cache = new BoundedCache(300);
        var computed = new List<string>();
        void Get(string key) => cache.GetOrAdd(key, () => { computed.Add(key); return key; }, _ => 100);

        Get("a");
        Get("b");
        Get("c");
        Get("a"); // a is now the most recent
        Get("d"); // over budget: b goes
        Get("a");
        Get("c");
        Get("b");

        Assert.Equal(["a", "b", "c", "d", "b"], computed);
    }
}
