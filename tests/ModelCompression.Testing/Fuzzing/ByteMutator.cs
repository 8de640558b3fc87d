using System.Text;

namespace ModelCompression.Testing.Fuzzing;

/// <summary>
/// Mutations that know nothing of the format, stacked one to four at a time (as AFL's havoc stage
/// does): bit flips, bytes set to interesting values, random bytes, inserted, deleted and
/// duplicated ranges, truncation, splicing with another input, and tokens of the format's
/// dictionary inserted, written over a range, or replacing the whole input.
/// </summary>
public sealed class ByteMutator(params string[] dictionary) : IMutator
{
    // Boundaries of signed and unsigned bytes: where off-by-one and sign errors live.
    private static readonly byte[] Interesting = [0x00, 0xFF, 0x7F, 0x80];
    private const int MaxStacked = 4, MaxRange = 32;

    private readonly byte[][] _tokens = dictionary.Select(Encoding.UTF8.GetBytes).ToArray();

    public byte[] Mutate(byte[] input, byte[] other, Random random)
    {
        var data = new List<byte>(input);
        var count = 1 + random.Next(MaxStacked);
        for (var i = 0; i < count; i++) MutateOnce(data, other, random);
        return [.. data];
    }

    private void MutateOnce(List<byte> data, byte[] other, Random random)
    {
        if (data.Count == 0)
        {
            data.AddRange(RandomBytes(random));
            return;
        }
        var at = random.Next(data.Count);
        switch (random.Next(_tokens.Length > 0 ? 12 : 9))
        {
            case 0: data[at] ^= (byte)(1 << random.Next(8)); break;
            case 1: data[at] = Interesting[random.Next(Interesting.Length)]; break;
            case 2: data[at] = (byte)random.Next(256); break;
            case 3: data.InsertRange(at, RandomBytes(random)); break;
            case 4: data.RemoveRange(at, Math.Min(data.Count - at, 1 + random.Next(MaxRange))); break;
            case 5: data.InsertRange(random.Next(data.Count + 1), data.GetRange(at, Math.Min(data.Count - at, 1 + random.Next(MaxRange)))); break;
            case 6: data.RemoveRange(at, data.Count - at); break;
            case 7:
            case 8: Splice(data, other, random); break;
            case 9: data.InsertRange(at, Token(random)); break;
            case 10: Overwrite(data, at, Token(random)); break;
            default: data.Clear(); data.AddRange(Token(random)); break;
        }
    }

    // This input's head, the other's tail: two valid halves make inputs that are valid for a while.
    private static void Splice(List<byte> data, byte[] other, Random random)
    {
        if (other.Length == 0) return;
        var cut = random.Next(data.Count + 1);
        data.RemoveRange(cut, data.Count - cut);
        data.AddRange(other.AsSpan(random.Next(other.Length)));
    }

    private static void Overwrite(List<byte> data, int at, byte[] token)
    {
        for (var i = 0; i < token.Length; i++)
        {
            if (at + i < data.Count) data[at + i] = token[i];
            else data.Add(token[i]);
        }
    }

    private byte[] Token(Random random) => _tokens[random.Next(_tokens.Length)];

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[1 + random.Next(MaxRange)];
        random.NextBytes(bytes);
        return bytes;
    }
}
