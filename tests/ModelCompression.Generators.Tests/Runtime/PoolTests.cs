using Microsoft.ML.OnnxRuntime;
using ModelCompression.Testing;

namespace ModelCompression.Generators.Tests.Runtime;

/// <summary>The pool the generator wrote for TinyCnn (Runtime/TinyCnn.mcsig), on ONNX Runtime.</summary>
public class PoolTests : IDisposable
{
    private readonly TempDirectory _folder = new();
    private readonly string _modelPath;

    public PoolTests() => _modelPath = WrapperRuntimeTests.Save(RuntimeModels.TinyCnn(), _folder);

    public void Dispose() => _folder.Dispose();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    [Fact]
    public void Four_threads_through_a_pool_of_two_compute_what_single_threaded_runs_compute()
    {
        using var pool = new TinyCnnPool(_modelPath, capacity: 2);
        var random = new Random(4);
        var inputs = Enumerable.Range(0, 4 * 8).Select(_ => Enumerable.Range(0, TinyCnn.InputLength).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();

        ConcurrentRuns.AssertSameAsSingleThreaded(threads: 4, runsPerThread: 1000, inputs, TinyCnn.LogitsLength, (input, output) =>
        {
            using var lease = pool.Rent(Token);
            input.CopyTo(lease.Model.Input);
            lease.Model.Run();
            lease.Model.Logits.CopyTo(output);
        });
    }

    [Fact]
    public void Rent_creates_wrappers_lazily_up_to_the_capacity_and_reuses_the_last_returned()
    {
        using var pool = new TinyCnnPool(_modelPath, capacity: 2);
        Assert.Equal(2, pool.Capacity);

        TinyCnn first;
        using (var lease = pool.Rent(Token)) first = lease.Model;
        using (var again = pool.Rent(Token)) Assert.Same(first, again.Model);

        using var a = pool.Rent(Token);
        using var b = pool.Rent(Token);
        Assert.NotSame(a.Model, b.Model);
        Assert.False(pool.TryRent(out var none, TimeSpan.Zero));
        Assert.Throws<InvalidOperationException>(() => none.Model);
    }

    [Fact]
    public async Task Rent_waits_for_a_return_and_can_be_cancelled()
    {
        using var pool = new TinyCnnPool(_modelPath, capacity: 1);
        var held = pool.Rent(Token);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));

        Assert.ThrowsAny<OperationCanceledException>(() => pool.Rent(cancel.Token));
        var waiting = Task.Run(() =>
        {
            using var lease = pool.Rent(Token);
            return lease.Model;
        }, Token);
        var model = held.Model;
        held.Dispose();

        Assert.Same(model, await waiting);
    }

    [Fact]
    public async Task RentAsync_waits_for_a_return_without_blocking_the_caller()
    {
        using var pool = new TinyCnnPool(_modelPath, capacity: 1);
        var held = pool.Rent(Token);

        var pending = pool.RentAsync(Token);
        Assert.False(pending.IsCompleted);
        var model = held.Model;
        held.Dispose();

        using var lease = await pending;
        Assert.Same(model, lease.Model);
    }

    [Fact]
    public void An_ended_lease_cannot_reach_the_wrapper_and_disposing_a_copy_again_does_nothing()
    {
        using var pool = new TinyCnnPool(_modelPath, capacity: 1);
        var lease = pool.Rent(Token);
        var copy = lease;

        lease.Dispose();
        using var next = pool.Rent(Token);
        copy.Dispose(); // must not return the wrapper 'next' holds

        Assert.Throws<InvalidOperationException>(() => lease.Model);
        Assert.False(pool.TryRent(out _, TimeSpan.Zero));
        next.Model.Run();
    }

    [Fact]
    public void Disposing_the_pool_keeps_rented_wrappers_working_until_their_lease_ends()
    {
        var pool = new TinyCnnPool(_modelPath, capacity: 2);
        var rented = pool.Rent(Token);
        using (var idle = pool.Rent(Token)) idle.Model.Run(); // a second, idle wrapper

        pool.Dispose();
        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent(Token));
        Assert.Throws<ObjectDisposedException>(() => pool.TryRent(out _, TimeSpan.Zero));
        rented.Model.Input.Fill(1f);
        rented.Model.Run(); // the session lives while a lease does
        var model = rented.Model;
        rented.Dispose();
        Assert.Throws<ObjectDisposedException>(model.Run); // disposed on return
    }

    [Fact]
    public void A_pool_on_the_callers_session_leaves_the_session_open()
    {
        using var session = new InferenceSession(_modelPath);
        using (var pool = new TinyCnnPool(session, capacity: 1))
        using (var lease = pool.Rent(Token))
            lease.Model.Run();

        using var wrapper = new TinyCnn(session); // still usable
        wrapper.Run();
    }

    [Fact]
    public void Bad_arguments_throw_before_loading_anything()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TinyCnnPool(_modelPath, capacity: 0));
        Assert.Throws<ArgumentNullException>(() => new TinyCnnPool(null!, capacity: 1));
        Assert.Throws<ArgumentNullException>(() => new TinyCnnPool((InferenceSession)null!, capacity: 1));
        Assert.Throws<OnnxRuntimeException>(() => new TinyCnnPool(_folder.Combine("missing.onnx"), capacity: 1));
    }

    [Fact]
    public void Steady_state_Rent_Run_and_return_allocate_nothing()
    {
        using var pool = new TinyCnnPool(_modelPath, capacity: 2);
        const int Runs = 10_000;
        for (var i = 0; i < 100; i++) RentRunReturn(pool, i); // warm-up: creates the wrappers

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Runs; i++) RentRunReturn(pool, i);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        TestContext.Current.TestOutputHelper?.WriteLine($"Managed bytes allocated over {Runs} x (Rent, TryRent, RentAsync) + Run + return: {allocated}.");
        Assert.Equal(0, allocated);
    }

    // A completed ValueTask's result (xUnit's analyzer flags .Result in test methods, which could block).
    private static TinyCnnPool.Lease Completed(ValueTask<TinyCnnPool.Lease> rent) => rent.Result;

    private static void RentRunReturn(TinyCnnPool pool, int i)
    {
        using (var lease = pool.Rent(Token))
        {
            lease.Model.Input[0] = i;
            lease.Model.Run();
        }
        Assert.True(pool.TryRent(out var tried, TimeSpan.Zero));
        using (tried) tried.Model.Run();
        var pending = pool.RentAsync(Token);
        Assert.True(pending.IsCompletedSuccessfully);
        using (var lease = Completed(pending)) lease.Model.Run();
    }
}
