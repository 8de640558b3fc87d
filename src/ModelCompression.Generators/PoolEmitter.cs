namespace ModelCompression.Generators;

/// <summary>
/// Writes <c>{Class}Pool</c>: a bounded, thread-safe pool of wrappers that share one InferenceSession (ONNX Runtime
/// runs one session from many threads; each wrapper keeps its own binding and buffers, so it serves one caller at a time).
/// </summary>
internal static class PoolEmitter
{
    private const string Ort = WrapperEmitter.Ort;

    public static string PoolName(WrapperModel model) => model.ClassName + "Pool";

    public static string Emit(WrapperModel model) => GeneratedFile.Write(model, code => EmitPool(code, model));

    private static void EmitPool(WrapperEmitter.CodeWriter code, WrapperModel model)
    {
        var pool = PoolName(model);
        // Fully qualified: the nested Lease type could otherwise hide a wrapper class named Lease.
        var wrapper = "global::" + model.FullName;
        const string Threading = "global::System.Threading";

        code.Line("/// <summary>");
        code.Line($"/// A bounded pool of <see cref=\"{wrapper}\"/> wrappers that share one ONNX Runtime session, for servers and other multi-threaded callers:");
        code.Line("/// <see cref=\"Rent\"/> a wrapper, use it, dispose the lease to give it back (<c>using var lease = pool.Rent();</c>).");
        code.Line("/// </summary>");
        code.Line("/// <remarks>");
        code.Line("/// <para>Thread safety: every member of the pool and of <see cref=\"Lease\"/> is thread-safe. A rented wrapper belongs to the caller");
        code.Line("/// that rented it until the lease is disposed: use it from one thread at a time, and not after disposing the lease.</para>");
        code.Line("/// <para>The session is loaded once; the wrappers (each with its own pinned buffers and binding) are created when first needed, at most");
        code.Line("/// <see cref=\"Capacity\"/>. When all are rented, <see cref=\"Rent\"/> and <see cref=\"RentAsync\"/> wait for a return and <see cref=\"TryRent\"/>");
        code.Line("/// waits at most its timeout. Once every wrapper exists, renting, running and returning allocate no managed memory.</para>");
        code.Line("/// <para>Disposal: <see cref=\"Dispose\"/> makes later rents throw <see cref=\"global::System.ObjectDisposedException\"/> and disposes the idle");
        code.Line("/// wrappers at once; a rented wrapper is disposed when its lease is, and the session (when the pool loaded it) with the last of them,");
        code.Line("/// so a run in progress never loses its session. Callers waiting to rent throw ObjectDisposedException at the next return.</para>");
        code.Line("/// </remarks>");
        code.Line($"public sealed class {pool} : global::System.IDisposable");
        code.Open();
        code.Line($"private readonly {Ort}.InferenceSession _session;");
        code.Line("private readonly bool _ownsSession;");
        code.Line($"private readonly {Ort}.SessionOptions? _ownedOptions;");
        code.Line($"private readonly {Threading}.SemaphoreSlim _available;");
        code.Line("private readonly object _lock = new object();");
        code.Line("// Per slot: its wrapper (null until first rented) and a version, odd while rented, that every rent and return");
        code.Line("// increments, so that a copy of an ended lease is recognised.");
        code.Line($"private readonly {wrapper}?[] _wrappers;");
        code.Line("private readonly int[] _versions;");
        code.Line("// The slots not rented, as a stack: the most recently returned wrapper (warm in the caches) is rented first.");
        code.Line("private readonly int[] _idleSlots;");
        code.Line("private int _idleCount;");
        code.Line("private int _rentedCount;");
        code.Line("private bool _disposed;");
        code.Line();

        EmitConstructors(code, model, pool, wrapper);

        code.Line("/// <summary>The largest number of wrappers the pool creates, and so of runs at the same time.</summary>");
        code.Line("public int Capacity => _wrappers.Length;");
        code.Line();

        code.Line("/// <summary>Rents a wrapper, waiting while all are rented. Dispose the lease to return it.</summary>");
        code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The pool has been disposed.</exception>");
        code.Line("/// <exception cref=\"global::System.OperationCanceledException\"><paramref name=\"cancellationToken\"/> was cancelled while waiting.</exception>");
        code.Line($"public Lease Rent({Threading}.CancellationToken cancellationToken = default)");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        code.Line("cancellationToken.ThrowIfCancellationRequested();");
        code.Line("// Waiting on a cancellable token registers a callback (an allocation): only when no wrapper is free.");
        code.Line("if (!_available.Wait(0)) _available.Wait(cancellationToken);");
        code.Line("return Take();");
        code.Close();
        code.Line();

        code.Line("/// <summary>Rents a wrapper, waiting at most <paramref name=\"timeout\"/> (<see cref=\"global::System.TimeSpan.Zero\"/>: not at all) while all are rented.</summary>");
        code.Line("/// <returns>Whether a wrapper was rented; if so, dispose <paramref name=\"lease\"/> to return it.</returns>");
        code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The pool has been disposed.</exception>");
        code.Line("public bool TryRent(out Lease lease, global::System.TimeSpan timeout)");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        code.Line("if (!_available.Wait(timeout))");
        code.Open();
        code.Line("lease = default;");
        code.Line("return false;");
        code.Close();
        code.Line("lease = Take();");
        code.Line("return true;");
        code.Close();
        code.Line();

        code.Line("/// <summary>Rents a wrapper, waiting asynchronously while all are rented. Allocates nothing when a wrapper is free.</summary>");
        code.Line("/// <exception cref=\"global::System.ObjectDisposedException\">The pool has been disposed.</exception>");
        code.Line("/// <exception cref=\"global::System.OperationCanceledException\"><paramref name=\"cancellationToken\"/> was cancelled while waiting.</exception>");
        code.Line($"public global::System.Threading.Tasks.ValueTask<Lease> RentAsync({Threading}.CancellationToken cancellationToken = default)");
        code.Open();
        code.Line("global::System.ObjectDisposedException.ThrowIf(_disposed, this);");
        code.Line("cancellationToken.ThrowIfCancellationRequested();");
        code.Line("// Not async itself: a Debug build makes every async method's state machine an object, even when it does not wait.");
        code.Line("return _available.Wait(0) ? new global::System.Threading.Tasks.ValueTask<Lease>(Take()) : WaitAndTakeAsync(cancellationToken);");
        code.Close();
        code.Line();

        code.Line($"private async global::System.Threading.Tasks.ValueTask<Lease> WaitAndTakeAsync({Threading}.CancellationToken cancellationToken)");
        code.Open();
        code.Line("await _available.WaitAsync(cancellationToken).ConfigureAwait(false);");
        code.Line("return Take();");
        code.Close();
        code.Line();

        EmitTakeAndReturn(code, wrapper);

        code.Line("/// <summary>Disposes the idle wrappers now and each rented one when its lease is disposed (see the class's remarks).</summary>");
        code.Line("public void Dispose()");
        code.Open();
        code.Line("lock (_lock)");
        code.Open();
        code.Line("if (_disposed) return;");
        code.Line("_disposed = true;");
        code.Line("while (_idleCount > 0)");
        code.Open();
        code.Line("var slot = _idleSlots[--_idleCount];");
        code.Line("_wrappers[slot]?.Dispose();");
        code.Line("_wrappers[slot] = null;");
        code.Close();
        code.Line("if (_rentedCount == 0) DisposeSession();");
        code.Close();
        code.Close();
        code.Line();

        code.Line("private void DisposeSession()");
        code.Open();
        code.Line("if (_ownsSession) _session.Dispose();");
        code.Line("_ownedOptions?.Dispose();");
        code.Close();
        code.Line();

        EmitLease(code, pool, wrapper);
        code.Close();
    }

    private static void EmitConstructors(WrapperEmitter.CodeWriter code, WrapperModel model, string pool, string wrapper)
    {
        var defaultModel = model.EmbeddedResourceName is null
            ? $"global::System.IO.Path.Combine(global::System.AppContext.BaseDirectory, {wrapper}.ModelPath)"
            : $"{wrapper}.ReadEmbeddedModel()";
        var source = model.EmbeddedResourceName is null ? $"from <see cref=\"{wrapper}.ModelPath\"/> beside the application" : $"from the assembly's resource <see cref=\"{wrapper}.EmbeddedResourceName\"/>";

        code.Line($"/// <summary>Loads the model {source}, with default session options,");
        code.Line("/// for up to <see cref=\"global::System.Environment.ProcessorCount\"/> wrappers.</summary>");
        code.Line($"public {pool}()");
        code.Line("    : this(global::System.Environment.ProcessorCount)");
        code.Open();
        code.Close();
        code.Line();

        code.Line($"/// <summary>Loads the model {source}.</summary>");
        code.Line("/// <param name=\"capacity\">The largest number of wrappers, at least 1.</param>");
        code.Line("/// <param name=\"options\">The session options, which the caller keeps ownership of; null for default options.</param>");
        code.Line($"public {pool}(int capacity, {Ort}.SessionOptions? options = null)");
        code.Line("    : this(CheckCapacity(capacity), CreateSession(null, options, out var ownedOptions), ownsSession: true, ownedOptions)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("/// <summary>Loads the model from <paramref name=\"modelPath\"/>.</summary>");
        code.Line("/// <param name=\"modelPath\">The ONNX model file.</param>");
        code.Line("/// <param name=\"capacity\">The largest number of wrappers, at least 1.</param>");
        code.Line("/// <param name=\"options\">The session options, which the caller keeps ownership of; null for default options.</param>");
        code.Line($"public {pool}(string modelPath, int capacity, {Ort}.SessionOptions? options = null)");
        code.Line("    : this(CheckCapacity(capacity), CreateSession(modelPath ?? throw new global::System.ArgumentNullException(nameof(modelPath)), options, out var ownedOptions), ownsSession: true, ownedOptions)");
        code.Open();
        code.Close();
        code.Line();

        code.Line("/// <summary>Runs the wrappers on a session the caller created.</summary>");
        code.Line("/// <param name=\"session\">The session, which the caller keeps ownership of and disposes after the pool.</param>");
        code.Line("/// <param name=\"capacity\">The largest number of wrappers, at least 1.</param>");
        code.Line($"public {pool}({Ort}.InferenceSession session, int capacity)");
        code.Line("    : this(CheckCapacity(capacity), session ?? throw new global::System.ArgumentNullException(nameof(session)), ownsSession: false, ownedOptions: null)");
        code.Open();
        code.Close();
        code.Line();

        code.Line($"private {pool}(int capacity, {Ort}.InferenceSession session, bool ownsSession, {Ort}.SessionOptions? ownedOptions)");
        code.Open();
        code.Line("_session = session;");
        code.Line("_ownsSession = ownsSession;");
        code.Line("_ownedOptions = ownedOptions;");
        code.Line("_available = new global::System.Threading.SemaphoreSlim(capacity, capacity);");
        code.Line($"_wrappers = new {wrapper}?[capacity];");
        code.Line("_versions = new int[capacity];");
        code.Line("_idleSlots = new int[capacity];");
        code.Line("for (var slot = 0; slot < capacity; slot++) _idleSlots[slot] = capacity - 1 - slot;");
        code.Line("_idleCount = capacity;");
        code.Close();
        code.Line();

        // Checked before the session is loaded, so that a bad capacity loads nothing.
        code.Line("private static int CheckCapacity(int capacity)");
        code.Open();
        code.Line("global::System.ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);");
        code.Line("return capacity;");
        code.Close();
        code.Line();

        code.Line("// modelPath null: the model the wrapper's default constructor loads.");
        code.Line($"private static {Ort}.InferenceSession CreateSession(string? modelPath, {Ort}.SessionOptions? options, out {Ort}.SessionOptions? ownedOptions)");
        code.Open();
        code.Line($"ownedOptions = options is null ? new {Ort}.SessionOptions() : null;");
        code.Line("try");
        code.Open();
        code.Line($"return modelPath is null ? new {Ort}.InferenceSession({defaultModel}, options ?? ownedOptions!) : new {Ort}.InferenceSession(modelPath, options ?? ownedOptions!);");
        code.Close();
        code.Line("catch");
        code.Open();
        code.Line("ownedOptions?.Dispose();");
        code.Line("throw;");
        code.Close();
        code.Close();
        code.Line();
    }

    private static void EmitTakeAndReturn(WrapperEmitter.CodeWriter code, string wrapper)
    {
        code.Line("// Called once the semaphore granted a slot: takes an idle slot and creates its wrapper on first use.");
        code.Line("private Lease Take()");
        code.Open();
        code.Line("int slot, version;");
        code.Line("lock (_lock)");
        code.Open();
        code.Line("if (_disposed)");
        code.Open();
        code.Line("_available.Release(); // passes the wake-up on: the next waiter throws too");
        code.Line("throw new global::System.ObjectDisposedException(GetType().FullName);");
        code.Close();
        code.Line("slot = _idleSlots[--_idleCount];");
        code.Line("version = unchecked(++_versions[slot]); // wraps around after 2^31 rents, keeping its parity");
        code.Line("_rentedCount++;");
        code.Close();
        code.Line("// The slot is this caller's alone until returned, so its wrapper is created outside the lock.");
        code.Line("var wrapper = _wrappers[slot];");
        code.Line("if (wrapper is null)");
        code.Open();
        code.Line("try");
        code.Open();
        code.Line($"wrapper = new {wrapper}(_session);");
        code.Close();
        code.Line("catch");
        code.Open();
        code.Line("Return(slot, version);");
        code.Line("throw;");
        code.Close();
        code.Line("_wrappers[slot] = wrapper;");
        code.Close();
        code.Line("return new Lease(this, wrapper, slot, version);");
        code.Close();
        code.Line();

        code.Line("private void Return(int slot, int version)");
        code.Open();
        code.Line("lock (_lock)");
        code.Open();
        code.Line("if (_versions[slot] != version) return; // a copy of a lease already disposed");
        code.Line("unchecked { _versions[slot]++; }");
        code.Line("_rentedCount--;");
        code.Line("if (_disposed)");
        code.Open();
        code.Line("_wrappers[slot]?.Dispose();");
        code.Line("_wrappers[slot] = null;");
        code.Line("if (_rentedCount == 0) DisposeSession();");
        code.Close();
        code.Line("else");
        code.Open();
        code.Line("_idleSlots[_idleCount++] = slot;");
        code.Close();
        code.Close();
        code.Line("_available.Release();");
        code.Close();
        code.Line();

        code.Line("private bool IsCurrent(int slot, int version) => global::System.Threading.Volatile.Read(ref _versions[slot]) == version;");
        code.Line();
    }

    private static void EmitLease(WrapperEmitter.CodeWriter code, string pool, string wrapper)
    {
        code.Line("/// <summary>A rented wrapper. Dispose it (once, e.g. with <c>using</c>) to return the wrapper; disposing a copy again does nothing.</summary>");
        code.Line("public readonly struct Lease : global::System.IDisposable");
        code.Open();
        code.Line($"private readonly {pool}? _pool;");
        code.Line($"private readonly {wrapper}? _model;");
        code.Line("private readonly int _slot;");
        code.Line("private readonly int _version;");
        code.Line();
        code.Line($"internal Lease({pool} pool, {wrapper} model, int slot, int version)");
        code.Open();
        code.Line("_pool = pool;");
        code.Line("_model = model;");
        code.Line("_slot = slot;");
        code.Line("_version = version;");
        code.Close();
        code.Line();
        code.Line("/// <summary>The rented wrapper: write its inputs, run it, read its outputs. Do not dispose it: dispose the lease.</summary>");
        code.Line("/// <exception cref=\"global::System.InvalidOperationException\">The lease has been disposed, or is <c>default</c>.</exception>");
        code.Line($"public {wrapper} Model");
        code.Open();
        code.Line("get");
        code.Open();
        code.Line("if (_pool is null || !_pool.IsCurrent(_slot, _version))");
        code.Line("    throw new global::System.InvalidOperationException(\"The lease has ended: rent another wrapper from the pool.\");");
        code.Line("return _model!;");
        code.Close();
        code.Close();
        code.Line();
        code.Line("/// <summary>Returns the wrapper to the pool.</summary>");
        code.Line("public void Dispose() => _pool?.Return(_slot, _version);");
        code.Close();
    }
}
