using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ModelCompression.Core.LayerStatistics;
using ModelCompression.Core.Passes.DataAware;
using ModelCompression.Testing;

namespace ModelCompression.Core.Tests.Passes.DataAware;

public sealed class InputHessianTests
{
    private const int K = 6;

    [Fact]
    public void The_H_of_collected_moments_reads_their_array_instead_of_copying_it()
    {
        // Two groups: the second group's H must start K² values into the moments.
        var moments = new InputMoments(K, 2, 100, [.. Moments(seed: 1), .. Moments(seed: 2)]);

        for (var group = 0; group < 2; group++)
        {
            var hessian = InputHessian.Of(moments, group);
            Assert.True(Unsafe.AreSame(ref MemoryMarshal.GetReference(hessian.Undampened), ref moments.Matrix[group * K * K]),
                $"group {group}: H is a copy of the moments");
        }
    }

    [Fact]
    public void A_dead_input_counts_as_one_on_the_diagonal_read_in_place_or_copied()
    {
        var live = Moments(seed: 3);
        var dead = WithDeadInput(live, 2);
        var inPlace = InputHessian.Of(new InputMoments(K, 1, 100, dead), 0);
        // What the H had before it read the moments in place: a copy with the dead input's diagonal entry set to 1.
        var fixedByHand = (float[])dead.Clone();
        fixedByHand[2 * K + 2] = 1;
        var expected = InputHessian.Of(fixedByHand, K);

        Assert.Equal([false, false, true, false, false, false], inPlace.Dead);
        Assert.Equal(expected.Diagonal(), inPlace.Diagonal());
        Assert.Equal(expected.DiagonalShift, inPlace.DiagonalShift);
        Assert.Equal(expected.CholeskyLower().ToRowMajorArray(), inPlace.CholeskyLower().ToRowMajorArray());
        Assert.Equal(expected.InverseCholeskyUpper(), inPlace.InverseCholeskyUpper());
    }

    [Fact]
    public void A_dead_input_whose_row_is_not_zero_is_zeroed_in_a_copy_not_in_the_moments()
    {
        // An input whose square underflowed to 0 while its products with others did not.
        var dead = WithDeadInput(Moments(seed: 4), 3);
        dead[3 * K + 1] = dead[1 * K + 3] = 1e-30f;
        var moments = new InputMoments(K, 1, 100, dead);
        var collected = (float[])dead.Clone();

        var hessian = InputHessian.Of(moments, 0);
        var zeroed = WithDeadInput(Moments(seed: 4), 3);
        zeroed[3 * K + 3] = 1;

        Assert.Equal(collected, moments.Matrix);
        Assert.Equal(0f, hessian.Undampened[3 * K + 1]);
        Assert.Equal(InputHessian.Of(zeroed, K).InverseCholeskyUpper(), hessian.InverseCholeskyUpper());
    }

    // The second moment of 4·K correlated rows: symmetric and positive definite.
    private static float[] Moments(int seed) => CorrelatedInputs.Moments(CorrelatedInputs.Rows(4 * K, K, seed, mixingSeed: seed), K).Matrix;

    // The input never fires: its row, column and diagonal entry are 0.
    private static float[] WithDeadInput(float[] h, int input)
    {
        var result = (float[])h.Clone();
        for (var j = 0; j < K; j++) result[input * K + j] = result[j * K + input] = 0;
        return result;
    }
}
