namespace ModelCompression.Testing.Fuzzing;

/// <summary>Turns one input of a parser into a slightly different one; the same random sequence gives the same result.</summary>
public interface IMutator
{
    /// <param name="input">The input to mutate; not changed.</param>
    /// <param name="other">Another input of the corpus, for splicing.</param>
    byte[] Mutate(byte[] input, byte[] other, Random random);
}
