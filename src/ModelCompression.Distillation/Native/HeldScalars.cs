using TorchSharp;
using static TorchSharp.torch;

namespace ModelCompression.Distillation.Native;

/// <summary>
/// Tensor arithmetic whose number arguments are Scalars held until the native call returns. TorchSharp turns a number
/// argument (and the implicit alpha of <c>a + b</c>) into a temporary Scalar whose finalizer frees its
/// native value, and nothing holds that object during the call that reads it: a collection started by another thread
/// can free the value mid-call (libtorch then fails in <c>Scalar::toFloat</c>; seen in CI with tests side by side).
/// </summary>
internal static class HeldScalars
{
    private static Scalar? _one;

    private static Scalar? _two;

    /// <summary>1, the alpha of a plain sum: created once and held by this field, so never finalized.</summary>
    public static Scalar One => LazyInitializer.EnsureInitialized(ref _one, () => 1.ToScalar());

    private static Scalar Two => LazyInitializer.EnsureInitialized(ref _two, () => 2.ToScalar());

    public static Tensor Plus(Tensor a, Tensor b) => a.add(b, One);

    /// <summary><paramref name="a"/> + <paramref name="b"/>, a Scalar the caller holds (TorchSharp's own adds a temporary alpha).</summary>
    public static Tensor Plus(Tensor a, Scalar b) => a.add(b, One);

    /// <summary>Adds <paramref name="b"/> to <paramref name="a"/> in place.</summary>
    public static Tensor PlusInPlace(Tensor a, Scalar b) => a.add_(b, One);

    /// <summary><paramref name="x"/>², as TorchSharp's <c>square()</c> computes it (pow with a temporary 2).</summary>
    public static Tensor Squared(Tensor x) => x.pow(Two);

    /// <summary>1 − <paramref name="x"/>: TorchSharp's <c>1 - x</c> adds a temporary 1 with a temporary alpha.</summary>
    public static Tensor OneMinus(Tensor x)
    {
        using var negated = x.negative();
        return negated.add(One, One);
    }

    /// <summary>arange(start, stop, step) in <paramref name="type"/>: TorchSharp's overloads that take numbers make temporary Scalars.</summary>
    public static Tensor Arange(long start, long stop, long step, ScalarType type)
    {
        using var first = start.ToScalar();
        using var limit = stop.ToScalar();
        using var delta = step.ToScalar();
        return torch.arange(first, limit, delta, type);
    }

    /// <inheritdoc cref="Arange(long, long, long, ScalarType)"/>
    public static Tensor Arange(double start, double stop, double step, ScalarType type)
    {
        using var first = start.ToScalar();
        using var limit = stop.ToScalar();
        using var delta = step.ToScalar();
        return torch.arange(first, limit, delta, type);
    }

    /// <summary>Runs <paramref name="operation"/> on <paramref name="value"/> as a Scalar held until it returns.</summary>
    public static Tensor With(double value, Func<Scalar, Tensor> operation)
    {
        using var scalar = value.ToScalar();
        return operation(scalar);
    }

    /// <summary>Runs <paramref name="operation"/> on two values as Scalars held until it returns.</summary>
    public static Tensor With(double first, double second, Func<Scalar, Scalar, Tensor> operation)
    {
        using var a = first.ToScalar();
        using var b = second.ToScalar();
        return operation(a, b);
    }
}
