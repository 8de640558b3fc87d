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

    [Fact]
    public void The_inverse_factor_is_upper_triangular_and_its_gram_matrix_inverts_the_dampened_H()
    {
        const int k = 37; // several blocks of columns in the triangular inverse, the last one partial
        var hessian = InputHessian.Of(CorrelatedInputs.Moments(CorrelatedInputs.Rows(4 * k, k, 5, mixingSeed: 5), k).Matrix, k);

        var u = hessian.InverseCholeskyUpper();

        for (var i = 0; i < k; i++)
            for (var j = 0; j < i; j++)
                Assert.Equal(0, u[i * k + j]);
        // (Uᵀ·U)·(H + λI) = I
        for (var i = 0; i < k; i++)
            for (var j = 0; j < k; j++)
            {
                double product = 0;
                for (var m = 0; m < k; m++)
                {
                    double gram = 0;
                    for (var t = 0; t <= Math.Min(i, m); t++) gram += u[t * k + i] * u[t * k + m];
                    product += gram * (hessian.Undampened[m * k + j] + (m == j ? hessian.DiagonalShift : 0));
                }
                Assert.True(Math.Abs(product - (i == j ? 1 : 0)) < 1e-9, $"({i}, {j}): {product}");
            }
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
